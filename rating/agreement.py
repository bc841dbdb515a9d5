"""Rater agreement for the audit: how far the adherence ratings of different raters agree.

Every function takes long-format ratings, one row per rating: `recording`, `item`, `rater`, `score`
(plus `phase` and `submitted_at` where a function needs them). A missing rating is a missing row.
Every function returns a tidy table (or, for the CLI, a JSON-ready dict).

Intraclass correlations need a complete recordings x raters matrix, which the audit's design does not
give: each recording is rated by two or three of many raters. `icc_table` therefore chooses between
- "crossed": the recordings that every rater rated (Shrout & Fleiss's cases 2 and 3; right for a
  calibration set that all raters score), and
- "slots": each recording's ratings become "rater 1", "rater 2", ... (in order of rater), keeping the
  recordings with at least k ratings and the first k of each, with k chosen to keep the most ratings.
  Slot 1 is a different person on each recording, which is Shrout & Fleiss's case 1, so only the
  one-way forms ICC1 and ICC1k are interpretable. They estimate the same absolute-agreement
  quantity as ICC2 (rater leniency counts as disagreement), which is why ICC1 is then recommended.
"auto" takes whichever keeps more ratings. Krippendorff's alpha needs no such choice: it uses every
recording with at least two ratings, whoever gave them, which makes it the fuller figure here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np
import pandas as pd
from scipy import stats

from rating.agreement_stats import (
    ICC_FORMS,
    LEVELS,
    cohen_kappa_by_group,
    fleiss_kappa,
    icc_forms,
    krippendorff_alpha,
    resample_weights,
    within_unit_pairs,
)

__all__ = [
    "BANDS",
    "ICC_FORMS",
    "LEVELS",
    "Bands",
    "agreement_by",
    "agreement_report",
    "alpha_table",
    "fleiss_kappa_pass",
    "icc_table",
    "pairwise_kappa",
    "rater_bias",
    "rater_drift",
    "rater_trend",
    "read_ratings_csv",
    "reading",
    "total_scores",
]

RATING_COLUMNS = ("recording", "item", "rater", "score")


@dataclass(frozen=True)
class Bands:
    """A conventional reading of a coefficient: labels[i] from lower_bounds[i - 1] up."""

    source: str
    lower_bounds: tuple[float, ...]
    labels: tuple[str, ...]


BANDS = {
    "cicchetti_1994": Bands(
        "Cicchetti (1994), Psychological Assessment 6(4):284-290",
        (0.40, 0.60, 0.75),
        ("poor", "fair", "good", "excellent"),
    ),
    "koo_li_2016": Bands(
        "Koo & Li (2016), Journal of Chiropractic Medicine 15(2):155-163",
        (0.50, 0.75, 0.90),
        ("poor", "moderate", "good", "excellent"),
    ),
    "krippendorff_2004": Bands(
        "Krippendorff (2004), Content Analysis, 2nd ed.: rely on alpha >= .800, draw only tentative "
        "conclusions from .667 to .800",
        (0.667, 0.800),
        ("unreliable", "tentative", "reliable"),
    ),
}

ICC_DESCRIPTIONS = {
    "ICC1": "one-way random, absolute agreement, single rater",
    "ICC2": "two-way random, absolute agreement, single rater",
    "ICC3": "two-way mixed, consistency, single rater",
    "ICC1k": "one-way random, absolute agreement, mean of k raters",
    "ICC2k": "two-way random, absolute agreement, mean of k raters",
    "ICC3k": "two-way mixed, consistency, mean of k raters",
}
DESIGNS = ("auto", "crossed", "slots")


def reading(value: float, bands: str = "cicchetti_1994") -> str | None:
    """The conventional label of a coefficient (None where there is no coefficient)."""
    band = _bands(bands)
    if value is None or not np.isfinite(value):
        return None
    return band.labels[int(np.searchsorted(band.lower_bounds, value, side="right"))]


def read_ratings_csv(path: str | PathLike) -> pd.DataFrame:
    """Long-format ratings from a CSV with a header `recording,item,rater,score` (more columns are kept).

    Identifiers stay text; scores become floats; `submitted_at`, where present, becomes a timestamp.
    Raises ValueError naming the file and the offending lines for a missing column, an empty
    identifier, a score that is not a finite number, or a rating given twice.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header {','.join(RATING_COLUMNS)}.") from None
    frame.columns = frame.columns.str.strip()
    missing = [column for column in RATING_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(missing)}: expected {','.join(RATING_COLUMNS)}, "
            f"found {','.join(frame.columns)}."
        )
    # The header is line 1.
    line = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    for column in ("recording", "item", "rater"):
        frame[column] = frame[column].str.strip()
        blank = frame[column] == ""
        if blank.any():
            raise ValueError(f"{path}: empty {column} on line(s) {_lines(line[blank])}.")
    text = frame["score"].str.strip()
    score = pd.to_numeric(text, errors="coerce")
    bad = ~np.isfinite(score.to_numpy(dtype=float))
    if bad.any():
        shown = ", ".join(f"line {n}: {value!r}" for n, value in zip(line[bad][:5], text[bad][:5]))
        raise ValueError(
            f"{path}: score is not a number ({shown}{', ...' if bad.sum() > 5 else ''}); "
            "leave a missing rating out rather than blank."
        )
    frame["score"] = score.astype(float)
    duplicated = frame.duplicated(["recording", "item", "rater"], keep=False)
    if duplicated.any():
        raise ValueError(
            f"{path}: the same recording, item and rater appear more than once, on lines {_lines(line[duplicated])}."
        )
    if "submitted_at" in frame.columns:
        try:
            frame["submitted_at"] = pd.to_datetime(frame["submitted_at"].str.strip(), format="ISO8601")
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: submitted_at is not an ISO 8601 date and time ({error}).") from None
    return frame


def icc_table(
    ratings: pd.DataFrame,
    *,
    design: str = "auto",
    raters_per_recording: int | None = None,
    bands: str = "cicchetti_1994",
    target: str = "recording",
    rater: str = "rater",
    score: str = "score",
) -> pd.DataFrame:
    """The six Shrout & Fleiss (1979) ICCs of one score per recording and rater, with 95% intervals.

    `design` is "crossed", "slots" or "auto" (see the module's docstring); `raters_per_recording`
    fixes k and so asks for the slot design. The recommended form is ICC2 for a crossed design, ICC1
    for slots.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}.")
    frame = _one_score_each(ratings, [target, rater], score)
    target_codes, _ = pd.factorize(frame[target], sort=True)
    rater_codes, _ = pd.factorize(frame[rater], sort=True)
    return _icc_rows(target_codes, rater_codes, frame[score].to_numpy(dtype=float), design, raters_per_recording, bands)


def alpha_table(
    ratings: pd.DataFrame,
    levels: Sequence[str] = LEVELS,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    bands: str = "krippendorff_2004",
    target: str = "recording",
    rater: str = "rater",
    score: str = "score",
) -> pd.DataFrame:
    """Krippendorff's alpha of one score per recording and rater at each level of measurement, with
    a 95% bootstrap interval from `n_boot` resamples of recordings (0: no interval)."""
    frame = _one_score_each(ratings, [target, rater], score)
    target_codes, targets = pd.factorize(frame[target], sort=True)
    rater_codes, _ = pd.factorize(frame[rater], sort=True)
    resamples = _resamples(len(targets), n_boot, seed)
    return _alpha_rows(target_codes, rater_codes, frame[score].to_numpy(dtype=float), tuple(levels), resamples, bands)


def pairwise_kappa(
    ratings: pd.DataFrame,
    *,
    weights: str | None = "quadratic",
    bands: str = "cicchetti_1994",
    target: str = "recording",
    item: str | None = "item",
    rater: str = "rater",
    score: str = "score",
) -> pd.DataFrame:
    """Cohen's kappa for every pair of raters who rated something in common.

    The paired ratings are the (recording, item) pairs both raters scored; with `item=None` they are
    the recordings, e.g. pass/fail decisions (`weights=None, item=None, score="passed"`). Weights
    ("quadratic", "linear" or None for unweighted) follow the distances between score values, every
    pair using the scale of all the scores given.
    """
    keys = [target] if item is None else [target, item]
    frame = _one_score_each(ratings, [*keys, rater], score)
    unit_codes = frame.groupby(keys, sort=False).ngroup().to_numpy()
    recording_codes, recordings = pd.factorize(frame[target])
    rater_codes, raters = pd.factorize(frame[rater], sort=True)
    scores = frame[score].to_numpy(dtype=float)

    first, second = within_unit_pairs(unit_codes)
    swap = rater_codes[first] > rater_codes[second]
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    pair_ids, pair_codes = np.unique(rater_codes[first] * len(raters) + rater_codes[second], return_inverse=True)
    kappa, n_ratings = cohen_kappa_by_group(
        pair_codes, scores[first], scores[second], len(pair_ids), weights, domain=np.unique(scores)
    )
    shared = np.unique(pair_codes.astype(np.int64) * len(recordings) + recording_codes[first])
    n_recordings = np.bincount(shared // max(len(recordings), 1), minlength=len(pair_ids))
    rater_a, rater_b = np.divmod(pair_ids, len(raters))
    return pd.DataFrame(
        {
            "rater_a": raters[rater_a],
            "rater_b": raters[rater_b],
            "kappa": kappa,
            "n_recordings": n_recordings,
            "n_ratings": n_ratings,
            "reading": [reading(value, bands) for value in kappa],
            "reading_source": _bands(bands).source,
        }
    )


def fleiss_kappa_pass(
    passes: pd.DataFrame,
    *,
    raters_per_recording: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    bands: str = "cicchetti_1994",
    target: str = "recording",
    rater: str = "rater",
    passed: str = "passed",
) -> pd.DataFrame:
    """Fleiss' kappa of the pass/fail decisions (one row per recording and rater) across all raters.

    Fleiss' kappa wants the same number of decisions on every recording, not the same raters, so the
    recordings are put in rater slots as for the ICC: k decisions each, k keeping the most decisions.
    The 95% interval comes from `n_boot` bootstrap resamples of recordings.
    """
    frame = _one_score_each(passes, [target, rater], passed)
    target_codes, _ = pd.factorize(frame[target], sort=True)
    rater_codes, _ = pd.factorize(frame[rater], sort=True)
    categories, decisions = np.unique(frame[passed].to_numpy(dtype=float), return_inverse=True)
    slots, n_raters = _slot_matrix(target_codes, rater_codes, decisions.astype(float), raters_per_recording)
    table = np.stack([(slots == category).sum(axis=1) for category in range(len(categories))], axis=1)
    kappa, low, high = fleiss_kappa(table, n_boot=n_boot, seed=seed)
    return pd.DataFrame(
        {
            "statistic": ["fleiss_kappa"],
            "kappa": [kappa],
            "ci95_low": [low],
            "ci95_high": [high],
            "n_recordings": [slots.shape[0]],
            "n_raters": [n_raters],
            "raters_per_recording": [slots.shape[1]],
            "reading": [reading(kappa, bands)],
            "reading_source": [_bands(bands).source],
        }
    )


def total_scores(ratings: pd.DataFrame, *, min_items_rated: float = 0.8) -> pd.DataFrame:
    """Each rater's total score of each recording, prorated over the items the rater left unrated.

    The total is the mean of the rater's item scores times the number of items rated on that
    recording by anyone, so a skipped item neither lowers the total nor makes it incomparable; a
    rater who rated fewer than `min_items_rated` of those items gets no total. `phase` is carried
    over and `submitted_at` becomes the rater's last submission on the recording.
    """
    _require(ratings, RATING_COLUMNS)
    ratings = ratings.dropna(subset=["score"])
    _forbid_duplicates(ratings, ["recording", "item", "rater"])
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
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}.")
    by = list(by)
    scope = "item" if "item" in by else "total"
    scores = ratings if scope == "item" else total_scores(ratings, min_items_rated=min_items_rated)
    _require(scores, [*by, "recording", "rater", "score"])
    scores = scores.dropna(subset=["score"])
    _forbid_duplicates(scores, [*by, "recording", "rater"])
    recording_codes, recordings = pd.factorize(scores["recording"], sort=True)
    rater_codes, _ = pd.factorize(scores["rater"], sort=True)
    values = scores["score"].to_numpy(dtype=float)
    resamples = _resamples(len(recordings), n_boot, seed)
    groups = scores.groupby(by, sort=True, observed=True).indices if by else {(): np.arange(len(scores))}

    tables = []
    for key, rows in groups.items():
        icc = _icc_rows(recording_codes[rows], rater_codes[rows], values[rows], design, None, icc_bands)
        icc = icc.rename(columns={"form": "statistic", "icc": "value"})
        alpha = _alpha_rows(
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
    _require(ratings, RATING_COLUMNS)
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


def rater_bias(ratings: pd.DataFrame, reference: pd.DataFrame | None = None, *, band: float = 0.5) -> pd.DataFrame:
    """How each rater's item scores differ from the other raters' and from reference scores.

    mean_difference is the rater's score minus the mean of the other raters' scores on the same
    recording and item, averaged within each recording and then over recordings, with a t interval
    over recordings (a rater's items on one recording are not independent). `direction` is
    "lenient" or "severe" when the difference is at least `band` score points and its interval
    excludes zero, "within band" under `band`, and "unclear" otherwise. `reference` holds the
    reference scores of calibration recordings (recording, item, score): against them each rater
    gets the mean difference and quadratic-weighted kappa (agreement_with_reference).
    """
    _require(ratings, RATING_COLUMNS)
    differences = _differences_from_others(ratings)
    per_recording = differences.groupby(["rater", "recording"], observed=True)["difference"].mean()
    summary = _mean_with_interval(per_recording.groupby(level="rater", observed=True))
    summary["n_ratings"] = differences.groupby("rater", observed=True).size()
    summary = summary.reindex(pd.Index(np.sort(ratings["rater"].unique()), name="rater"))
    summary["n_recordings"] = summary["n_recordings"].fillna(0).astype(int)
    summary["n_ratings"] = summary["n_ratings"].fillna(0).astype(int)
    summary["direction"] = [
        _direction(mean, low, high, band) for mean, low, high in summary[["mean", "low", "high"]].to_numpy()
    ]
    table = summary.rename(columns={"mean": "mean_difference", "low": "ci95_low", "high": "ci95_high"})
    table = table.join(_reference_agreement(ratings, reference, ["rater"]))
    table["n_reference_recordings"] = table["n_reference_recordings"].fillna(0).astype(int)
    return table.reset_index()[
        [
            "rater",
            "n_recordings",
            "n_ratings",
            "mean_difference",
            "ci95_low",
            "ci95_high",
            "direction",
            "n_reference_recordings",
            "reference_mean_difference",
            "agreement_with_reference",
        ]
    ]


def rater_drift(
    ratings: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    *,
    freq: str = "Q",
    date: str = "submitted_at",
) -> pd.DataFrame:
    """`rater_bias`'s differences for each rater and calendar period (`freq`, a pandas period alias:
    "Q" quarters, "M" months, "Y" years) of the ratings' `date`."""
    _require(ratings, [*RATING_COLUMNS, date])
    ratings = ratings.assign(period=_timestamps(ratings[date]).dt.to_period(freq).astype(str))
    differences = _differences_from_others(ratings)
    per_recording = differences.groupby(["rater", "period", "recording"], observed=True)["difference"].mean()
    grouped = per_recording.groupby(level=["rater", "period"], observed=True)
    table = pd.DataFrame({"n_recordings": grouped.size(), "mean_difference": grouped.mean()})
    table = table.join(_reference_agreement(ratings, reference, ["rater", "period"]), how="outer")
    table["n_recordings"] = table["n_recordings"].fillna(0).astype(int)
    table["n_reference_recordings"] = table["n_reference_recordings"].fillna(0).astype(int)
    return table.reset_index().sort_values(["rater", "period"], ignore_index=True)


def rater_trend(
    ratings: pd.DataFrame, reference: pd.DataFrame | None = None, *, date: str = "submitted_at"
) -> pd.DataFrame:
    """Each rater's change per year in difference from the others and, given `reference`, in
    (absolute) difference from the reference scores: the least-squares slope over the rater's
    recordings in time, with its 95% interval.

    `trend` reads the interval: "towards lenient" / "towards severe" for the signed differences,
    "improving" / "worsening" for the absolute difference from reference, else "no clear trend".
    """
    _require(ratings, [*RATING_COLUMNS, date])
    when = _timestamps(ratings[date])
    ratings = ratings.assign(years=(when - when.min()).dt.total_seconds() / (365.25 * 24 * 3600))
    differences = _differences_from_others(ratings)
    measures = [differences.assign(measure="difference_from_others")]
    if reference is not None:
        against = _reference_differences(ratings, reference)
        measures.append(against.assign(measure="difference_from_reference"))
        measures.append(
            against.assign(measure="absolute_difference_from_reference", difference=against["difference"].abs())
        )
    points = (
        pd.concat(measures, ignore_index=True)
        .groupby(["rater", "measure", "recording"], observed=True)[["years", "difference"]]
        .mean()
        .reset_index()
    )
    table = _slopes(points, ["rater", "measure"], "years", "difference")
    table["trend"] = [
        _trend(measure, low, high) for measure, low, high in table[["measure", "ci95_low", "ci95_high"]].to_numpy()
    ]
    return table.rename(columns={"slope": "slope_per_year"})


def _bands(name: str) -> Bands:
    if name not in BANDS:
        raise ValueError(f"bands must be one of {', '.join(BANDS)}, not {name!r}.")
    return BANDS[name]


def _lines(lines: pd.Series) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return shown + (", ..." if len(lines) > 10 else "")


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"The ratings lack the column(s) {', '.join(missing)}; they have {', '.join(frame.columns)}.")


def _forbid_duplicates(frame: pd.DataFrame, keys: list[str]) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, keys].iloc[0].to_dict()
        raise ValueError(
            f"{int(duplicated.sum())} rows share their {', '.join(keys)} with another, e.g. {example}: "
            "give one score per " + " and ".join(keys) + " (select an item, or use total_scores)."
        )


def _one_score_each(frame: pd.DataFrame, keys: list[str], score: str) -> pd.DataFrame:
    _require(frame, [*keys, score])
    frame = frame[[*keys, score]].dropna(subset=[score])
    _forbid_duplicates(frame, keys)
    return frame


def _icc_rows(
    target_codes: np.ndarray,
    rater_codes: np.ndarray,
    scores: np.ndarray,
    design: str,
    raters_per_recording: int | None,
    bands: str,
) -> pd.DataFrame:
    # Codes may come from a larger frame: a rater absent here must not count against "crossed".
    target_codes = np.unique(target_codes, return_inverse=True)[1]
    rater_codes = np.unique(rater_codes, return_inverse=True)[1]
    crossed, crossed_raters = _crossed_matrix(target_codes, rater_codes, scores)
    slots, slot_raters = _slot_matrix(target_codes, rater_codes, scores, raters_per_recording)
    if design == "auto":
        design = "crossed" if raters_per_recording is None and crossed.size >= slots.size else "slots"
    matrix, n_raters = (crossed, crossed_raters) if design == "crossed" else (slots, slot_raters)

    figures = icc_forms(matrix)
    recommended = "ICC2" if design == "crossed" else "ICC1"
    interpretable = ICC_FORMS if design == "crossed" else ("ICC1", "ICC1k")
    return pd.DataFrame(
        {
            "form": ICC_FORMS,
            "description": [ICC_DESCRIPTIONS[form] for form in ICC_FORMS],
            "icc": figures["icc"],
            "ci95_low": figures["ci_low"],
            "ci95_high": figures["ci_high"],
            "F": figures["F"],
            "df1": figures["df1"],
            "df2": figures["df2"],
            "pval": figures["pval"],
            "n_recordings": matrix.shape[0],
            "n_raters": n_raters,
            "raters_per_recording": matrix.shape[1],
            "design": design,
            "recommended": [form == recommended for form in ICC_FORMS],
            "interpretable": [form in interpretable for form in ICC_FORMS],
            "reading": [reading(value, bands) for value in figures["icc"]],
            "reading_source": _bands(bands).source,
        }
    )


def _crossed_matrix(target_codes: np.ndarray, rater_codes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, int]:
    """The recordings x raters matrix of the recordings that every rater rated."""
    n_raters = int(rater_codes.max()) + 1 if rater_codes.size else 0
    full = np.full((int(target_codes.max()) + 1 if target_codes.size else 0, n_raters), np.nan)
    full[target_codes, rater_codes] = scores
    return full[~np.isnan(full).any(axis=1)], n_raters


def _slot_matrix(
    target_codes: np.ndarray, rater_codes: np.ndarray, scores: np.ndarray, k: int | None
) -> tuple[np.ndarray, int]:
    """Recordings x k rater slots, and how many different raters fill them."""
    sizes = np.bincount(target_codes) if target_codes.size else np.zeros(0, dtype=int)
    if k is None:
        candidates = np.arange(2, max(int(sizes.max(initial=0)), 1) + 1)
        kept = candidates * (sizes[None, :] >= candidates[:, None]).sum(axis=1)
        # Ties go to the larger k: the same ratings in fewer, better-rated recordings.
        k = int(candidates[len(kept) - 1 - np.argmax(kept[::-1])]) if kept.size and kept.max() > 0 else 2
    order = np.lexsort((rater_codes, target_codes))
    ordered_targets = target_codes[order]
    starts = np.searchsorted(ordered_targets, ordered_targets)
    slot = np.arange(len(order)) - starts
    keep = (sizes[ordered_targets] >= k) & (slot < k)
    rows, row_index = np.unique(ordered_targets[keep], return_inverse=True)
    matrix = np.empty((len(rows), k))
    matrix[row_index, slot[keep]] = scores[order][keep]
    return matrix, len(np.unique(rater_codes[order][keep]))


def _resamples(n_recordings: int, n_boot: int, seed: int) -> np.ndarray | None:
    if n_boot <= 0 or n_recordings == 0:
        return None
    return resample_weights(n_recordings, n_boot, np.random.default_rng(seed))


def _alpha_rows(
    target_codes: np.ndarray,
    rater_codes: np.ndarray,
    scores: np.ndarray,
    levels: tuple[str, ...],
    resamples: np.ndarray | None,
    bands: str,
) -> pd.DataFrame:
    figures, pairable = krippendorff_alpha(target_codes, scores, levels, resamples)
    return pd.DataFrame(
        {
            "level": levels,
            "alpha": [figures[level][0] for level in levels],
            "ci95_low": [figures[level][1] for level in levels],
            "ci95_high": [figures[level][2] for level in levels],
            "n_recordings": len(np.unique(target_codes[pairable])),
            "n_raters": len(np.unique(rater_codes[pairable])),
            "n_ratings": int(pairable.sum()),
            "reading": [reading(figures[level][0], bands) for level in levels],
            "reading_source": _bands(bands).source,
        }
    )


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


def _differences_from_others(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings that share their recording and item with another rater's, each with its
    difference from the mean of the others."""
    ratings = ratings.dropna(subset=["score"])
    _forbid_duplicates(ratings, ["recording", "item", "rater"])
    unit = ratings.groupby(["recording", "item"], observed=True)["score"]
    others = unit.transform("count") - 1
    shared = others > 0
    consensus = (unit.transform("sum")[shared] - ratings["score"][shared]) / others[shared]
    return ratings[shared].assign(difference=ratings["score"][shared] - consensus)


def _reference_differences(ratings: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    _require(reference, ["recording", "item", "score"])
    reference = reference.dropna(subset=["score"])
    _forbid_duplicates(reference, ["recording", "item"])
    reference = reference[["recording", "item", "score"]].rename(columns={"score": "reference_score"})
    matched = ratings.dropna(subset=["score"]).merge(reference, on=["recording", "item"])
    return matched.assign(difference=matched["score"] - matched["reference_score"])


def _reference_agreement(ratings: pd.DataFrame, reference: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """Per group of `keys`: n_reference_recordings, reference_mean_difference (recording means
    averaged) and agreement_with_reference (quadratic-weighted kappa of item scores)."""
    columns = ["n_reference_recordings", "reference_mean_difference", "agreement_with_reference"]
    if reference is None:
        index = pd.MultiIndex.from_tuples([], names=keys) if len(keys) > 1 else pd.Index([], name=keys[0])
        return pd.DataFrame(columns=columns, index=index, dtype=float)
    matched = _reference_differences(ratings, reference)
    per_recording = matched.groupby([*keys, "recording"], observed=True)["difference"].mean()
    grouped = per_recording.groupby(level=keys, observed=True)
    table = pd.DataFrame({"n_reference_recordings": grouped.size(), "reference_mean_difference": grouped.mean()})
    group_codes = matched.groupby(keys, sort=True, observed=True).ngroup().to_numpy()
    domain = np.unique(np.concatenate([ratings["score"].dropna().to_numpy(float), matched["reference_score"]]))
    kappa, _ = cohen_kappa_by_group(
        group_codes,
        matched["score"].to_numpy(float),
        matched["reference_score"].to_numpy(float),
        len(table),
        "quadratic",
        domain,
    )
    table["agreement_with_reference"] = kappa
    return table


def _mean_with_interval(grouped) -> pd.DataFrame:
    table = grouped.agg(["size", "mean", "std"]).rename(columns={"size": "n_recordings"})
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.975, table["n_recordings"] - 1) * table["std"] / np.sqrt(table["n_recordings"])
    table["low"] = table["mean"] - half
    table["high"] = table["mean"] + half
    return table.drop(columns="std")


def _direction(mean: float, low: float, high: float, band: float) -> str | None:
    if not np.isfinite(mean):
        return None
    if abs(mean) < band:
        return "within band"
    if mean > 0 and low > 0:
        return "lenient"
    if mean < 0 and high < 0:
        return "severe"
    return "unclear"


def _timestamps(values: pd.Series) -> pd.Series:
    when = pd.to_datetime(values)
    # Periods are calendar periods; a time zone only gets in the way of to_period.
    return when.dt.tz_convert(None) if when.dt.tz is not None else when


def _slopes(points: pd.DataFrame, keys: list[str], x: str, y: str) -> pd.DataFrame:
    grouped = points.groupby(keys, observed=True)
    dx = points[x] - grouped[x].transform("mean")
    dy = points[y] - grouped[y].transform("mean")
    sums = (
        pd.DataFrame({"sxx": dx * dx, "sxy": dx * dy, "syy": dy * dy})
        .groupby([points[key] for key in keys], observed=True)
        .sum()
    )
    n = grouped.size()
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sums["sxy"] / sums["sxx"]
        residual = (sums["syy"] - slope * sums["sxy"]).clip(lower=0) / (n - 2)
        half = stats.t.ppf(0.975, n - 2) * np.sqrt(residual / sums["sxx"])
    table = pd.DataFrame({"n_recordings": n, "slope": slope, "ci95_low": slope - half, "ci95_high": slope + half})
    return table.replace([np.inf, -np.inf], np.nan).reset_index()


def _trend(measure: str, low: float, high: float) -> str | None:
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    if measure == "absolute_difference_from_reference":
        return "improving" if high < 0 else "worsening" if low > 0 else "no clear trend"
    return "towards lenient" if low > 0 else "towards severe" if high < 0 else "no clear trend"
