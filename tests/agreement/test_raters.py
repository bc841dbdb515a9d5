import numpy as np
import pandas as pd
import pytest

from rating.agreement import flag_raters, rater_bias, rater_drift, rater_trend
from tests.agreement.examples import simulated_ratings

LENIENT, SEVERE = 3, 7


@pytest.fixture(scope="module")
def lenient_and_severe():
    return simulated_ratings(n_recordings=400, n_raters=12, leniency={LENIENT: 1.0, SEVERE: -1.0}, seed=1)


def test_rater_one_point_lenient_is_flagged(lenient_and_severe):
    ratings, _ = lenient_and_severe
    table = rater_bias(ratings).set_index("rater")
    lenient, severe = f"rater{LENIENT:02d}", f"rater{SEVERE:02d}"
    assert table.loc[lenient, "direction"] == "lenient"
    assert table.loc[severe, "direction"] == "severe"
    # Against two others, one of whom may be the severe rater: close to +1, and the interval says so.
    assert table.loc[lenient, "mean_difference"] == pytest.approx(1.0, abs=0.15)
    assert table.loc[lenient, "ci95_low"] > 0.5
    assert table.loc[severe, "mean_difference"] == pytest.approx(-1.0, abs=0.15)
    others = table.drop(index=[lenient, severe])
    assert (others["direction"] == "within band").all()
    assert table["reference_mean_difference"].isna().all()
    assert table["n_reference_recordings"].eq(0).all()


def test_mean_difference_is_from_the_mean_of_the_other_raters():
    ratings = pd.DataFrame(
        {
            "recording": ["r1"] * 3 + ["r2"] * 2,
            "item": ["i1"] * 5,
            "rater": ["a", "b", "c", "a", "b"],
            "score": [5.0, 3.0, 4.0, 2.0, 2.0],
        }
    )
    table = rater_bias(ratings).set_index("rater")
    # a: r1 5 - (3 + 4) / 2 = 1.5, r2 2 - 2 = 0; averaged over recordings.
    assert table.loc["a", "mean_difference"] == pytest.approx(0.75)
    assert table.loc["c", "mean_difference"] == pytest.approx(0.0)
    assert table.loc["a", "n_recordings"] == 2 and table.loc["c", "n_ratings"] == 1
    # Two recordings are too few to tell a 0.75 difference from chance.
    assert table.loc["a", "direction"] == "unclear"


def test_flag_rule_reads_each_difference_with_its_interval():
    nan = np.nan
    bias = pd.DataFrame(
        {
            "rater": ["steady", "noisy", "close", "off_reference", "unpaired", "one_tape"],
            "mean_difference": [0.8, 0.8, 0.2, 0.1, nan, 1.5],
            # One tape shared with another rater has no interval either.
            "ci95_low": [0.3, -0.2, 0.1, -0.1, nan, nan],
            "ci95_high": [1.3, 1.8, 0.3, 0.3, nan, nan],
            # One calibration tape has no interval; three that disagree have one that reaches zero.
            "reference_mean_difference": [nan, 0.9, nan, -0.8, nan, nan],
            "reference_ci95_low": [nan, -0.4, nan, nan, nan, nan],
            "reference_ci95_high": [nan, 2.2, nan, nan, nan, nan],
        }
    )
    table = flag_raters(bias, band=0.5)
    # No difference, no direction (pandas keeps it as NaN).
    assert table["direction"].fillna("none").tolist() == [
        "lenient", "unclear", "within band", "within band", "none", "too few tapes"]
    assert table["reference_direction"].fillna("none").tolist() == ["none", "unclear", "none", "severe", "none", "none"]
    assert table["flag"].tolist() == [
        "lenient against the others (+0.80)",
        "",
        "",
        "severe against the reference (-0.80)",
        "",
        "",
    ]
    assert table["flagged"].tolist() == [True, False, False, True, False, False]


def test_rater_bias_flags_by_the_same_rule():
    # One item. 'a' is a point above the others on each of three recordings; 'n' is three above on
    # one and one below on another: as far off on average, but two recordings that disagree cannot
    # tell that from chance. 'd' scores a point under the one calibration tape's reference score.
    scores = {
        "r1": {"a": 4, "b": 3, "c": 3, "d": 2},
        "r2": {"a": 4, "b": 3, "c": 3, "d": 3},
        "r3": {"n": 6, "b": 3, "c": 3, "d": 3},
        "r4": {"n": 2, "b": 3, "c": 3, "d": 3},
        "r5": {"a": 4, "b": 3, "c": 3, "d": 3},
    }
    ratings = pd.DataFrame(
        [(recording, "i1", rater, float(score)) for recording, by in scores.items() for rater, score in by.items()],
        columns=["recording", "item", "rater", "score"],
    )
    reference = pd.DataFrame({"recording": ["r1"], "item": ["i1"], "score": [3.0]})
    table = rater_bias(ratings, reference, band=0.75).set_index("rater")

    # a: 4 - (3 + 3 + 2) / 3, then 4 - 3 twice.
    assert table.loc["a", "mean_difference"] == pytest.approx(10 / 9)
    assert table.loc["a", "ci95_low"] > 0
    assert table.loc["a", "flag"] == "lenient against the others (+1.11); lenient against the reference (+1.00)"
    assert table.loc["n", "mean_difference"] == pytest.approx(1.0)
    assert table.loc["n", "ci95_low"] < 0 and table.loc["n", "direction"] == "unclear"
    assert not table.loc["n", "flagged"] and table.loc["n", "flag"] == ""
    assert table.loc["d", "direction"] == "within band" and table.loc["d", "reference_direction"] == "severe"
    assert table.loc["d", "flag"] == "severe against the reference (-1.00)"
    assert table["flagged"].tolist() == [True, False, False, True, False]


def test_flag_and_directions_never_disagree(lenient_and_severe):
    ratings, reference = lenient_and_severe
    table = rater_bias(ratings, reference[reference["recording"] < "rec010"], band=0.3)
    leaning = table["direction"].isin(["lenient", "severe"]) | table["reference_direction"].isin(["lenient", "severe"])
    assert table["flagged"].tolist() == leaning.tolist() and table["flagged"].any()
    for row in table.itertuples():
        for direction, whom in ((row.direction, "the others"), (row.reference_direction, "the reference")):
            assert (f"{direction} against {whom}" in row.flag) == (direction in ("lenient", "severe")), row


def test_band_is_configurable(lenient_and_severe):
    ratings, _ = lenient_and_severe
    table = rater_bias(ratings, band=1.5).set_index("rater")
    assert table.loc[f"rater{LENIENT:02d}", "direction"] == "within band"


def test_agreement_with_reference_scores(lenient_and_severe):
    ratings, reference = lenient_and_severe
    calibration = reference[reference["recording"] < "rec100"]
    table = rater_bias(ratings, calibration).set_index("rater")
    assert table.loc[f"rater{LENIENT:02d}", "reference_mean_difference"] == pytest.approx(1.0, abs=0.2)
    assert table.loc[f"rater{SEVERE:02d}", "reference_mean_difference"] == pytest.approx(-1.0, abs=0.2)
    neutral = table.drop(index=[f"rater{LENIENT:02d}", f"rater{SEVERE:02d}"])
    assert neutral["reference_mean_difference"].abs().max() < 0.3
    # A biased rater agrees less with the reference than the unbiased ones.
    assert table.loc[f"rater{LENIENT:02d}", "agreement_with_reference"] < neutral["agreement_with_reference"].min()
    assert (table["n_reference_recordings"] > 0).all()


def test_agreement_with_reference_is_quadratic_weighted_kappa(lenient_and_severe):
    from sklearn.metrics import cohen_kappa_score

    ratings, reference = lenient_and_severe
    table = rater_bias(ratings, reference).set_index("rater")
    rater = "rater00"
    pair = ratings[ratings["rater"] == rater].merge(reference, on=["recording", "item"])
    expected = cohen_kappa_score(pair["score_x"], pair["score_y"], labels=np.arange(7), weights="quadratic")
    assert table.loc[rater, "agreement_with_reference"] == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def drifting():
    return simulated_ratings(n_recordings=600, n_raters=10, drift_per_year={2: 1.0}, seed=2)


def test_drift_by_quarter(drifting):
    ratings, reference = drifting
    table = rater_drift(ratings, reference)
    assert list(table.columns) == [
        "rater",
        "period",
        "n_recordings",
        "mean_difference",
        "n_reference_recordings",
        "reference_mean_difference",
        "agreement_with_reference",
    ]
    drifter = table[table["rater"] == "rater02"].set_index("period")
    assert drifter.index.tolist() == ["2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert drifter["mean_difference"].iloc[-1] - drifter["mean_difference"].iloc[0] > 1.0
    yearly = rater_drift(ratings, freq="Y")
    assert set(yearly["period"]) == {"2024", "2025"}


def test_trend_finds_the_drifting_rater(drifting):
    ratings, reference = drifting
    table = rater_trend(ratings, reference).set_index(["rater", "measure"])
    drifter = table.loc["rater02"]
    assert drifter.loc["difference_from_reference", "slope_per_year"] == pytest.approx(1.0, abs=0.3)
    assert drifter.loc["difference_from_others", "trend"] == "towards lenient"
    assert drifter.loc["absolute_difference_from_reference", "trend"] == "worsening"
    steady = table.drop(index="rater02", level="rater")
    steady = steady.xs("difference_from_reference", level="measure")
    assert steady["slope_per_year"].abs().max() < 0.3


def test_trend_and_drift_need_dates():
    ratings, _ = simulated_ratings(n_recordings=20)
    with pytest.raises(ValueError, match="submitted_at"):
        rater_trend(ratings.drop(columns="submitted_at"))
    with pytest.raises(ValueError, match="submitted_at"):
        rater_drift(ratings.drop(columns="submitted_at"))
