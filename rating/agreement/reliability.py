"""Intraclass correlations and Krippendorff's alpha of one score per recording and rater, as tables.

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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rating.agreement.estimators import ICC_FORMS, LEVELS, icc_forms, krippendorff_alpha, resample_weights
from rating.agreement.ratings import coded_scores
from rating.agreement.readings import bands_named, reading

ICC_DESCRIPTIONS = {
    "ICC1": "one-way random, absolute agreement, single rater",
    "ICC2": "two-way random, absolute agreement, single rater",
    "ICC3": "two-way mixed, consistency, single rater",
    "ICC1k": "one-way random, absolute agreement, mean of k raters",
    "ICC2k": "two-way random, absolute agreement, mean of k raters",
    "ICC3k": "two-way mixed, consistency, mean of k raters",
}
DESIGNS = ("auto", "crossed", "slots")


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
    check_design(design)
    target_codes, rater_codes, scores, _ = coded_scores(ratings, target, rater, score)
    return icc_rows(target_codes, rater_codes, scores, design, raters_per_recording, bands)


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
    target_codes, rater_codes, scores, targets = coded_scores(ratings, target, rater, score)
    resamples = bootstrap_resamples(len(targets), n_boot, seed)
    return alpha_rows(target_codes, rater_codes, scores, tuple(levels), resamples, bands)


def check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}.")


def icc_rows(
    target_codes: np.ndarray,
    rater_codes: np.ndarray,
    scores: np.ndarray,
    design: str,
    raters_per_recording: int | None,
    bands: str,
) -> pd.DataFrame:
    """`icc_table` of coded scores."""
    # Codes may come from a larger frame: a rater absent here must not count against "crossed".
    target_codes = np.unique(target_codes, return_inverse=True)[1]
    rater_codes = np.unique(rater_codes, return_inverse=True)[1]
    crossed, crossed_raters = _crossed_matrix(target_codes, rater_codes, scores)
    slots, slot_raters = slot_matrix(target_codes, rater_codes, scores, raters_per_recording)
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
            "reading_source": bands_named(bands).source,
        }
    )


def alpha_rows(
    target_codes: np.ndarray,
    rater_codes: np.ndarray,
    scores: np.ndarray,
    levels: tuple[str, ...],
    resamples: np.ndarray | None,
    bands: str,
) -> pd.DataFrame:
    """`alpha_table` of coded scores, its intervals from `bootstrap_resamples` (None: no interval)."""
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
            "reading_source": bands_named(bands).source,
        }
    )


def bootstrap_resamples(n_recordings: int, n_boot: int, seed: int) -> np.ndarray | None:
    """`resample_weights` of the recordings, or None where there is nothing to resample."""
    if n_boot <= 0 or n_recordings == 0:
        return None
    return resample_weights(n_recordings, n_boot, np.random.default_rng(seed))


def slot_matrix(
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


def _crossed_matrix(target_codes: np.ndarray, rater_codes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, int]:
    """The recordings x raters matrix of the recordings that every rater rated."""
    n_raters = int(rater_codes.max()) + 1 if rater_codes.size else 0
    full = np.full((int(target_codes.max()) + 1 if target_codes.size else 0, n_raters), np.nan)
    full[target_codes, rater_codes] = scores
    return full[~np.isnan(full).any(axis=1)], n_raters
