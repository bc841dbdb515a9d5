"""Agreement on the total score and on each item: every ICC and alpha per group as one table, and the
report `dit agreement` prints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from rating.agreement.estimators import ICC_FORMS, LEVELS
from rating.agreement.ratings import RATING_COLUMNS, forbid_duplicates, require_columns
from rating.agreement.readings import BANDS
from rating.agreement.reliability import (
    ICC_DESCRIPTIONS,
    alpha_rows,
    bootstrap_resamples,
    check_design,
    icc_rows,
)

_AGREEMENT_COLUMNS = [
    "statistic",
    "value",
    "ci95_low",
    "ci95_high",
    "n_recordings",
    "n_raters",
    "design",
    "recommended",
    "interpretable",
    "reading",
    "reading_source",
]


def total_scores(ratings: pd.DataFrame, *, min_items_rated: float = 0.8) -> pd.DataFrame:
    """Each rater's total score of each recording, prorated over the items the rater left unrated.

    The total is the mean of the rater's item scores times the number of items rated on that
    recording by anyone, so a skipped item neither lowers the total nor makes it incomparable; a
    rater who rated fewer than `min_items_rated` of those items gets no total. `phase` is carried
    over and `submitted_at` becomes the rater's last submission on the recording.
    """
    require_columns(ratings, RATING_COLUMNS)
    ratings = ratings.dropna(subset=["score"])
    forbid_duplicates(ratings, ["recording", "item", "rater"])
    items_on_recording = ratings.groupby("recording", sort=False)["item"].nunique()
    aggregations = {"mean_score": ("score", "mean"), "n_items_rated": ("item", "size")}
    if "phase" in ratings.columns:
        aggregations["phase"] = ("phase", "first")
    if "submitted_at" in ratings.columns:
        aggregations["submitted_at"] = ("submitted_at", "max")
    totals = ratings.groupby(["recording", "rater"], sort=True, observed=True).agg(**aggregations).reset_index()
    totals["n_items"] = totals["recording"].map(items_on_recording).astype(int)
    totals = totals[totals["n_items_rated"] >= min_items_rated * totals["n_items"]]
    totals.insert(2, "score", totals.pop("mean_score") * totals["n_items"])
    return totals.reset_index(drop=True)


def agreement_by(
    ratings: pd.DataFrame,
    by: Iterable[str] = ("item",),
    *,
    levels: Sequence[str] = LEVELS,
    n_boot: int = 1000,
    seed: int = 0,
    design: str = "auto",
    min_items_rated: float = 0.8,
    icc_bands: str = "cicchetti_1994",
    alpha_bands: str = "krippendorff_2004",
) -> pd.DataFrame:
    """The six ICCs and alpha at each level, for each group of `by`.

    With "item" in `by` the figures are about item scores (per item, or per phase and item); without
    it they are about total scores (`total_scores`): `by=()` for all recordings, `by=("phase",)` per
    phase. One row per group and statistic: the group's columns, `score` ("item" or "total"),
    `statistic` (ICC1..ICC3k, alpha_nominal..alpha_ratio), value, ci95_low, ci95_high, n_recordings,
    n_raters, design, recommended, interpretable, reading, reading_source. Every group resamples the
    same recordings for its alpha intervals.
    """
    check_design(design)
    by = list(by)
    scope = "item" if "item" in by else "total"
    scores = ratings if scope == "item" else total_scores(ratings, min_items_rated=min_items_rated)
    require_columns(scores, [*by, "recording", "rater", "score"])
    scores = scores.dropna(subset=["score"])
    forbid_duplicates(scores, [*by, "recording", "rater"])
    recording_codes, recordings = pd.factorize(scores["recording"], sort=True)
    rater_codes, _ = pd.factorize(scores["rater"], sort=True)
    values = scores["score"].to_numpy(dtype=float)
    resamples = bootstrap_resamples(len(recordings), n_boot, seed)
    groups = scores.groupby(by, sort=True, observed=True).indices if by else {(): np.arange(len(scores))}

    tables = []
    for key, rows in groups.items():
        icc = icc_rows(recording_codes[rows], rater_codes[rows], values[rows], design, None, icc_bands)
        icc = icc.rename(columns={"form": "statistic", "icc": "value"})
        alpha = alpha_rows(
            recording_codes[rows], rater_codes[rows], values[rows], tuple(levels), resamples, alpha_bands
        )
        alpha = alpha.assign(
            statistic="alpha_" + alpha["level"],
            value=alpha["alpha"],
            design=None,
            recommended=False,
            interpretable=True,
        )
        table = pd.concat([icc, alpha], ignore_index=True)[_AGREEMENT_COLUMNS]
        key = key if isinstance(key, tuple) else (key,)
        for column, value in reversed(list(zip(by, key))):
            table.insert(0, column, value)
        table.insert(len(by), "score", scope)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def agreement_report(
    ratings: pd.DataFrame,
    level: str = "interval",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    min_items_rated: float = 0.8,
) -> dict:
    """What `dit agreement` prints: the ICCs and alphas of the total score at the top level, and the
    same per item under "items". `level` is the scores' level of measurement: its alpha is repeated
    as "alpha". Every figure is {"value", "ci95": [low, high], "n_recordings", "n_raters", "reading",
    ...}; a figure that cannot be computed is None (JSON null), never NaN.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}.")
    require_columns(ratings, RATING_COLUMNS)
    options = {"n_boot": n_boot, "seed": seed, "min_items_rated": min_items_rated}
    totals = total_scores(ratings, min_items_rated=min_items_rated)
    total_rows = agreement_by(ratings, by=(), **options)
    item_rows = agreement_by(ratings, by=("item",), **options)
    items = {
        str(item): _figures(rows, ratings[ratings["item"] == item], level)
        for item, rows in item_rows.groupby("item", sort=True)
    }
    return {
        "level": level,
        "score": "total",
        **_figures(total_rows, totals, level),
        "n_items": int(ratings["item"].nunique()),
        "n_ratings": len(ratings),
        "n_boot": n_boot,
        "reading_sources": {"icc": BANDS["cicchetti_1994"].source, "alpha": BANDS["krippendorff_2004"].source},
        "items": items,
    }


def _json_number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _figures(rows: pd.DataFrame, scores: pd.DataFrame, level: str) -> dict:
    figures = {
        "n_recordings": int(scores["recording"].nunique()),
        "n_raters": int(scores["rater"].nunique()),
    }
    for row in rows.itertuples(index=False):
        figure = {
            "value": _json_number(row.value),
            "ci95": [_json_number(row.ci95_low), _json_number(row.ci95_high)],
            "n_recordings": int(row.n_recordings),
            "n_raters": int(row.n_raters),
            # pandas turns a missing reading into NaN, which JSON cannot carry.
            "reading": row.reading if isinstance(row.reading, str) else None,
        }
        if row.statistic in ICC_FORMS:
            figure |= {
                "description": ICC_DESCRIPTIONS[row.statistic],
                "recommended": bool(row.recommended),
                "interpretable": bool(row.interpretable),
            }
            if row.recommended:
                figures["recommended_icc"] = row.statistic
                figures["icc_design"] = row.design
        figures[row.statistic] = figure
    figures["alpha"] = {"level": level, **figures[f"alpha_{level}"]}
    return figures
