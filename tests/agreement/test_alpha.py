import krippendorff
import numpy as np
import pandas as pd
import pytest

from rating.agreement import LEVELS, alpha_table
from rating.agreement.estimators import krippendorff_alpha, resample_weights
from tests.agreement.examples import KRIPPENDORFF, KRIPPENDORFF_ALPHA, krippendorff_2011, targets_by_raters


def test_krippendorff_2011_published_values():
    table = alpha_table(krippendorff_2011()).set_index("level")
    for level, published in KRIPPENDORFF_ALPHA.items():
        assert round(table.loc[level, "alpha"], 3) == published, level


def test_krippendorff_2011_matches_the_krippendorff_package():
    table = alpha_table(krippendorff_2011(), n_boot=0).set_index("level")
    for level in LEVELS:
        expected = krippendorff.alpha(reliability_data=KRIPPENDORFF, level_of_measurement=level)
        assert table.loc[level, "alpha"] == pytest.approx(expected, rel=1e-12)


def test_krippendorff_2011_counts_only_pairable_units():
    # Unit 12 was coded by observer B alone, so 11 units and 40 values are pairable.
    table = alpha_table(krippendorff_2011(), n_boot=0)
    assert table["n_recordings"].eq(11).all()
    assert table["n_ratings"].eq(40).all()
    assert table["n_raters"].eq(4).all()
    assert table["ci95_low"].isna().all()


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_krippendorff_package_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n_units, n_raters = rng.integers(5, 60), rng.integers(2, 9)
    # Zeros included: the ratio metric must treat two zeros as agreeing.
    matrix = (rng.integers(0, 5, size=(n_units, 1)) + rng.integers(0, 3, size=(n_units, n_raters))).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    table = alpha_table(targets_by_raters(matrix), n_boot=0).set_index("level")
    for level in LEVELS:
        expected = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement=level)
        assert table.loc[level, "alpha"] == pytest.approx(expected, rel=1e-10, abs=1e-12), level


def test_continuous_scores_match_the_package():
    rng = np.random.default_rng(9)
    matrix = rng.normal(10, 2, size=(40, 1)) + rng.normal(0, 1, size=(40, 3))
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    table = alpha_table(targets_by_raters(matrix), n_boot=0).set_index("level")
    for level in LEVELS:
        expected = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement=level)
        assert table.loc[level, "alpha"] == pytest.approx(expected, rel=1e-10), level


def test_each_resample_is_alpha_of_the_units_it_drew():
    units, raters = np.nonzero(~np.isnan(KRIPPENDORFF.T))
    values = KRIPPENDORFF.T[units, raters]
    weights = resample_weights(12, 5, np.random.default_rng(5))
    np.testing.assert_array_equal(weights[:, 0], 1)
    for drawn_counts in weights.T[1:]:
        drawn = np.repeat(np.arange(12), drawn_counts.astype(int))
        # Given as the only column, a resample's weights are taken as the sample itself.
        figures, _ = krippendorff_alpha(units, values, LEVELS, drawn_counts[:, None])
        for level in LEVELS:
            expected = krippendorff.alpha(reliability_data=KRIPPENDORFF.T[drawn].T, level_of_measurement=level)
            assert figures[level][0] == pytest.approx(expected, rel=1e-10), level


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(200, 1)) + rng.normal(0, 0.7, size=(200, 3))
    ratings = targets_by_raters(np.round(matrix * 2) + 10)
    first = alpha_table(ratings, n_boot=500, seed=1)
    again = alpha_table(ratings, n_boot=500, seed=1)
    other = alpha_table(ratings, n_boot=500, seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["ci95_low"], other["ci95_low"])
    assert (first["ci95_low"] < first["alpha"]).all() and (first["alpha"] < first["ci95_high"]).all()
    # 200 units: the interval is a few hundredths wide, not degenerate.
    assert ((first["ci95_high"] - first["ci95_low"]).between(0.02, 0.3)).all()


def test_readings_use_krippendorffs_thresholds():
    table = alpha_table(krippendorff_2011(), n_boot=0).set_index("level")
    assert table.loc["interval", "reading"] == "reliable"
    assert table.loc["nominal", "reading"] == "tentative"
    assert table["reading_source"].str.startswith("Krippendorff (2004)").all()


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError, match="Level of measurement"):
        alpha_table(krippendorff_2011(), levels=("interval", "cardinal"))


def test_no_pairable_ratings_gives_missing_alpha():
    ratings = pd.DataFrame({"recording": ["a", "b"], "rater": ["x", "y"], "score": [1.0, 2.0]})
    table = alpha_table(ratings)
    assert table["alpha"].isna().all() and table["n_recordings"].eq(0).all()
