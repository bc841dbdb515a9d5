"""Kappa tables: Cohen's kappa of every pair of raters, and Fleiss' kappa of the pass/fail decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rating.agreement.estimators import cohen_kappa_by_group, fleiss_kappa, within_unit_pairs
from rating.agreement.ratings import coded_scores, one_score_each
from rating.agreement.readings import bands_named, reading
from rating.agreement.reliability import slot_matrix


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
    frame = one_score_each(ratings, [*keys, rater], score)
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
            "reading_source": bands_named(bands).source,
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
    target_codes, rater_codes, decisions, _ = coded_scores(passes, target, rater, passed)
    categories, decisions = np.unique(decisions, return_inverse=True)
    slots, n_raters = slot_matrix(target_codes, rater_codes, decisions.astype(float), raters_per_recording)
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
            "reading_source": [bands_named(bands).source],
        }
    )
