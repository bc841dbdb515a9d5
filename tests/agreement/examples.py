"""The published worked examples, as long-format ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Shrout & Fleiss (1979), Table 2: six targets rated by four judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)
# Their Table 4, to the two decimals printed.
SHROUT_FLEISS_ICC = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four observers,
# twelve units, missing values as NaN.
nan = np.nan
KRIPPENDORFF = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)
KRIPPENDORFF_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def targets_by_raters(matrix: np.ndarray) -> pd.DataFrame:
    """Long format from a targets x raters matrix; NaN cells are missing rows."""
    target, rater = np.nonzero(~np.isnan(matrix))
    return pd.DataFrame(
        {
            "recording": [f"rec{t + 1:02d}" for t in target],
            "rater": [f"rater{r + 1}" for r in rater],
            "score": matrix[target, rater],
        }
    )


def shrout_fleiss() -> pd.DataFrame:
    return targets_by_raters(SHROUT_FLEISS)


def krippendorff_2011() -> pd.DataFrame:
    """Observers are the rows of Krippendorff's table, units its columns."""
    return targets_by_raters(KRIPPENDORFF.T)


def simulated_ratings(
    *,
    n_recordings: int = 300,
    n_raters: int = 12,
    raters_per_recording: int = 3,
    n_items: int = 5,
    missing: float = 0.15,
    leniency: dict[int, float] | None = None,
    drift_per_year: dict[int, float] | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Item scores 0-6 from recordings of varying quality, each rated by a few of the raters, with
    given raters lenient (+) or severe (-) and drifting; and reference scores (the rounded truth)
    for every recording."""
    rng = np.random.default_rng(seed)
    leniency = leniency or {}
    drift_per_year = drift_per_year or {}
    quality = rng.normal(3, 1, n_recordings)
    item_effect = rng.normal(0, 0.4, n_items)
    years = np.sort(rng.uniform(0, 2, n_recordings))
    rows = []
    for recording in range(n_recordings):
        for rater in rng.choice(n_raters, raters_per_recording, replace=False):
            shift = leniency.get(rater, 0.0) + drift_per_year.get(rater, 0.0) * years[recording]
            for item in range(n_items):
                if rng.random() < missing:
                    continue
                truth = quality[recording] + item_effect[item]
                score = np.clip(np.round(truth + shift + rng.normal(0, 0.6)), 0, 6)
                rows.append((recording, item, rater, score))
    recording, item, rater, score = map(np.array, zip(*rows))
    ratings = pd.DataFrame(
        {
            "recording": [f"rec{r:03d}" for r in recording],
            "item": [f"item{i + 1}" for i in item],
            "rater": [f"rater{r:02d}" for r in rater],
            "score": score,
            "phase": np.array(["initial", "middle", "ending"])[recording % 3],
            "submitted_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(years[recording] * 365.25, unit="D"),
        }
    )
    grid = pd.MultiIndex.from_product([range(n_recordings), range(n_items)], names=["recording", "item"]).to_frame(
        index=False
    )
    reference = pd.DataFrame(
        {
            "recording": [f"rec{r:03d}" for r in grid["recording"]],
            "item": [f"item{i + 1}" for i in grid["item"]],
            "score": np.clip(np.round(quality[grid["recording"]] + item_effect[grid["item"]]), 0, 6),
        }
    )
    return ratings, reference
