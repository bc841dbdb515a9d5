"""Each rater against the others and against reference scores: bias, the flag it earns, drift by
calendar period and trend over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from rating.agreement.estimators import cohen_kappa_by_group
from rating.agreement.ratings import RATING_COLUMNS, forbid_duplicates, require_columns

TOO_FEW = "too few tapes"
_COMPARISONS = {
    "the others": ("mean_difference", "ci95_low", "ci95_high", "direction"),
    "the reference": ("reference_mean_difference", "reference_ci95_low", "reference_ci95_high", "reference_direction"),
}
_BIAS_COLUMNS = [
    "rater",
    "n_recordings",
    "n_ratings",
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "direction",
    "n_reference_recordings",
    "reference_mean_difference",
    "reference_ci95_low",
    "reference_ci95_high",
    "reference_direction",
    "agreement_with_reference",
    "flagged",
    "flag",
]


def rater_bias(ratings: pd.DataFrame, reference: pd.DataFrame | None = None, *, band: float = 0.5) -> pd.DataFrame:
    """How each rater's item scores differ from the other raters' and from reference scores, and
    whether that earns a flag.

    mean_difference is the rater's score minus the mean of the other raters' scores on the same
    recording and item, averaged within each recording and then over recordings, with a t interval
    over recordings (a rater's items on one recording are not independent). `reference` holds the
    reference scores of calibration recordings (recording, item, score): against them each rater
    gets the mean difference, with its interval over recordings in the same way, and the
    quadratic-weighted kappa (agreement_with_reference). `direction`, `reference_direction`,
    `flagged` and `flag` are `flag_raters`'s, at `band` score points.
    """
    require_columns(ratings, RATING_COLUMNS)
    differences = _differences_from_others(ratings)
    per_recording = differences.groupby(["rater", "recording"], observed=True)["difference"].mean()
    summary = _mean_with_interval(per_recording.groupby(level="rater", observed=True))
    summary["n_ratings"] = differences.groupby("rater", observed=True).size()
    summary = summary.reindex(pd.Index(np.sort(ratings["rater"].unique()), name="rater"))
    summary["n_recordings"] = summary["n_recordings"].fillna(0).astype(int)
    summary["n_ratings"] = summary["n_ratings"].fillna(0).astype(int)
    table = summary.rename(columns={"mean": "mean_difference", "low": "ci95_low", "high": "ci95_high"})
    table = table.join(_reference_agreement(ratings, reference, ["rater"]))
    table["n_reference_recordings"] = table["n_reference_recordings"].fillna(0).astype(int)
    return flag_raters(table.reset_index(), band)[_BIAS_COLUMNS]


def flag_raters(bias: pd.DataFrame, band: float) -> pd.DataFrame:
    """`bias` (a `rater_bias` table) with each rater's `direction` against the others,
    `reference_direction` against the reference scores, and the flag they earn: `flagged`, and
    `flag` saying why ("lenient against the others (+0.62)", "severe against the reference (-0.80)",
    both joined by "; "), empty where not flagged.

    One rule reads both differences, each with its 95% interval over recordings:
    - "within band" where the difference is under `band` score points either way;
    - "lenient" (positive) or "severe" (negative) where it is at least `band` and its interval lies
      wholly on the same side of zero, so chance is an unlikely explanation; a single recording
      gives no interval, and against the reference its difference then stands alone (one calibration
      tape well off its reference scores is worth the course lead's look);
    - "unclear" where it is at least `band` but its interval reaches zero: the recordings vary too
      much, or are too few, to tell the rater's leaning from chance;
    - "too few tapes" where it is at least `band` against the others on the one recording they share:
      one tape rated by two people cannot say which of them leans;
    - None where the rater shares nothing with the others (or with the reference).
    A rater is flagged exactly where a direction is "lenient" or "severe", so the two never disagree.
    """
    table = bias.copy()
    reasons = []
    for whom, (difference, low, high, direction) in _COMPARISONS.items():
        values = table[[difference, low, high]].to_numpy(dtype=float)
        # One calibration tape well off its reference is worth a look; one tape shared with another rater
        # says nothing about either of them.
        alone = whom == "the reference"
        table[direction] = [_direction(mean, low, high, band, alone) for mean, low, high in values]
        reasons.append(
            [
                f"{leaning} against {whom} ({mean:+.2f})" if leaning in ("lenient", "severe") else ""
                for leaning, mean in zip(table[direction], values[:, 0])
            ]
        )
    table["flag"] = ["; ".join(reason for reason in pair if reason) for pair in zip(*reasons)]
    table["flagged"] = table["flag"] != ""
    return table


def rater_drift(
    ratings: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    *,
    freq: str = "Q",
    date: str = "submitted_at",
) -> pd.DataFrame:
    """`rater_bias`'s differences for each rater and calendar period (`freq`, a pandas period alias:
    "Q" quarters, "M" months, "Y" years) of the ratings' `date`."""
    require_columns(ratings, [*RATING_COLUMNS, date])
    ratings = ratings.assign(period=_timestamps(ratings[date]).dt.to_period(freq).astype(str))
    differences = _differences_from_others(ratings)
    per_recording = differences.groupby(["rater", "period", "recording"], observed=True)["difference"].mean()
    grouped = per_recording.groupby(level=["rater", "period"], observed=True)
    table = pd.DataFrame({"n_recordings": grouped.size(), "mean_difference": grouped.mean()})
    against = _reference_agreement(ratings, reference, ["rater", "period"])
    table = table.join(against.drop(columns=["reference_ci95_low", "reference_ci95_high"]), how="outer")
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
    require_columns(ratings, [*RATING_COLUMNS, date])
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


def _differences_from_others(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings that share their recording and item with another rater's, each with its
    difference from the mean of the others."""
    ratings = ratings.dropna(subset=["score"])
    forbid_duplicates(ratings, ["recording", "item", "rater"])
    unit = ratings.groupby(["recording", "item"], observed=True)["score"]
    others = unit.transform("count") - 1
    shared = others > 0
    consensus = (unit.transform("sum")[shared] - ratings["score"][shared]) / others[shared]
    return ratings[shared].assign(difference=ratings["score"][shared] - consensus)


def _reference_differences(ratings: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    require_columns(reference, ["recording", "item", "score"])
    reference = reference.dropna(subset=["score"])
    forbid_duplicates(reference, ["recording", "item"])
    reference = reference[["recording", "item", "score"]].rename(columns={"score": "reference_score"})
    matched = ratings.dropna(subset=["score"]).merge(reference, on=["recording", "item"])
    return matched.assign(difference=matched["score"] - matched["reference_score"])


def _reference_agreement(ratings: pd.DataFrame, reference: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """Per group of `keys`: n_reference_recordings, reference_mean_difference (recording means
    averaged) with its t interval over recordings (reference_ci95_low, reference_ci95_high), and
    agreement_with_reference (quadratic-weighted kappa of item scores)."""
    columns = [
        "n_reference_recordings",
        "reference_mean_difference",
        "reference_ci95_low",
        "reference_ci95_high",
        "agreement_with_reference",
    ]
    if reference is None:
        index = pd.MultiIndex.from_tuples([], names=keys) if len(keys) > 1 else pd.Index([], name=keys[0])
        return pd.DataFrame(columns=columns, index=index, dtype=float)
    matched = _reference_differences(ratings, reference)
    per_recording = matched.groupby([*keys, "recording"], observed=True)["difference"].mean()
    table = _mean_with_interval(per_recording.groupby(level=keys, observed=True))
    table.columns = columns[:4]
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
    """Per group: n_recordings, mean, and the mean's 95% t interval (low, high; NaN for one recording)."""
    table = grouped.agg(["size", "mean", "std"]).rename(columns={"size": "n_recordings"})
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.975, table["n_recordings"] - 1) * table["std"] / np.sqrt(table["n_recordings"])
    table["low"] = table["mean"] - half
    table["high"] = table["mean"] + half
    return table.drop(columns="std")


def _direction(mean: float, low: float, high: float, band: float, alone: bool) -> str | None:
    if not np.isfinite(mean):
        return None
    if abs(mean) < band:
        return "within band"
    # A single recording gives no interval: its difference stands alone where `alone`, else it is too few.
    if not (np.isfinite(low) and np.isfinite(high)) and not alone:
        return TOO_FEW
    if low <= 0 <= high:
        return "unclear"
    return "lenient" if mean > 0 else "severe"


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
