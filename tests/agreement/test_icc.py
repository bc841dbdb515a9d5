import numpy as np
import pandas as pd
import pingouin
import pytest

from rating.agreement import BANDS, ICC_FORMS, icc_table, reading
from rating.agreement.estimators import icc_forms
from tests.agreement.examples import SHROUT_FLEISS, SHROUT_FLEISS_ICC, shrout_fleiss, targets_by_raters

PINGOUIN_TYPES = dict(zip(ICC_FORMS, ["ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)"]))


@pytest.fixture
def unrounded_pingouin(monkeypatch):
    # pingouin rounds its intervals to two decimals unless told otherwise.
    monkeypatch.setitem(pingouin.options, "round.column.CI95", None)


def pingouin_icc(ratings: pd.DataFrame) -> pd.DataFrame:
    table = pingouin.intraclass_corr(ratings, targets="recording", raters="rater", ratings="score")
    return table.set_index("Type").loc[list(PINGOUIN_TYPES.values())].set_axis(list(ICC_FORMS))


def test_shrout_fleiss_published_values():
    table = icc_table(shrout_fleiss()).set_index("form")
    for form, published in SHROUT_FLEISS_ICC.items():
        assert round(table.loc[form, "icc"], 2) == published, form
    assert table["n_recordings"].eq(6).all() and table["n_raters"].eq(4).all()
    assert (table["design"] == "crossed").all()


def test_shrout_fleiss_marks_icc2_as_recommended():
    table = icc_table(shrout_fleiss())
    assert table.loc[table["recommended"], "form"].tolist() == ["ICC2"]
    assert table["interpretable"].all()
    assert table["reading_source"].eq(BANDS["cicchetti_1994"].source).all()
    # ICC2 = .29 is poor, ICC3k = .91 excellent on Cicchetti's bands.
    assert table.set_index("form").loc[["ICC2", "ICC3k"], "reading"].tolist() == ["poor", "excellent"]


@pytest.mark.usefixtures("unrounded_pingouin")
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.dropna is deprecated")
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_matches_pingouin(seed):
    if seed is None:
        matrix = SHROUT_FLEISS
    else:
        rng = np.random.default_rng(seed)
        n, k = rng.integers(5, 40), rng.integers(2, 7)
        matrix = rng.normal(size=(n, 1)) + rng.normal(0, 0.5, size=(1, k)) + rng.normal(0, 0.8, size=(n, k))
    ratings = targets_by_raters(matrix)
    ours = icc_table(ratings).set_index("form")
    theirs = pingouin_icc(ratings)
    np.testing.assert_allclose(ours["icc"], theirs["ICC"], rtol=1e-10)
    np.testing.assert_allclose(ours["F"], theirs["F"], rtol=1e-10)
    np.testing.assert_allclose(ours["df2"], theirs["df2"])
    np.testing.assert_allclose(ours["pval"], theirs["pval"], rtol=1e-8, atol=1e-300)
    intervals = np.stack(theirs["CI95"].to_numpy())
    np.testing.assert_allclose(ours["ci95_low"], intervals[:, 0], rtol=1e-8)
    np.testing.assert_allclose(ours["ci95_high"], intervals[:, 1], rtol=1e-8)


def test_incomplete_design_uses_rater_slots_and_recommends_icc1():
    rng = np.random.default_rng(4)
    rows = []
    for recording in range(60):
        quality = rng.normal()
        for rater in rng.choice(10, 2, replace=False):
            rows.append((f"rec{recording}", f"rater{rater}", quality + rng.normal(0, 0.5)))
    ratings = pd.DataFrame(rows, columns=["recording", "rater", "score"])
    table = icc_table(ratings).set_index("form")
    assert (table["design"] == "slots").all()
    assert table["recommended"].idxmax() == "ICC1" and table["recommended"].sum() == 1
    assert table.index[table["interpretable"]].tolist() == ["ICC1", "ICC1k"]
    assert table.loc["ICC1", "n_recordings"] == 60 and table.loc["ICC1", "raters_per_recording"] == 2
    assert table.loc["ICC1", "n_raters"] == 10
    # Slot ICC1 is the one-way ICC of the recordings x 2 matrix of their scores.
    matrix = ratings.sort_values(["recording", "rater"]).groupby("recording")["score"].apply(list)
    np.testing.assert_allclose(table.loc["ICC1", "icc"], icc_forms(np.array(matrix.tolist()))["icc"][0])


def test_slots_keep_most_ratings_and_drop_extra_raters():
    # 10 recordings rated by 3, 2 by 2: k = 3 keeps 30 ratings, k = 2 keeps 24.
    rows = [(f"rec{r}", f"rater{j}", float(r + j)) for r in range(10) for j in range(3)]
    rows += [(f"extra{r}", f"rater{j}", float(r)) for r in range(2) for j in range(2)]
    table = icc_table(pd.DataFrame(rows, columns=["recording", "rater", "score"]), design="slots")
    assert table["raters_per_recording"].iloc[0] == 3 and table["n_recordings"].iloc[0] == 10
    forced = icc_table(pd.DataFrame(rows, columns=["recording", "rater", "score"]), raters_per_recording=2)
    assert forced["raters_per_recording"].iloc[0] == 2 and forced["n_recordings"].iloc[0] == 12


def test_crossed_design_drops_recordings_missing_a_rater():
    matrix = SHROUT_FLEISS.copy()
    matrix[0, 1] = np.nan
    table = icc_table(targets_by_raters(matrix), design="crossed")
    assert table["n_recordings"].iloc[0] == 5
    np.testing.assert_allclose(table["icc"], icc_forms(SHROUT_FLEISS[1:])["icc"])


def test_too_little_data_gives_missing_figures_not_errors():
    table = icc_table(pd.DataFrame({"recording": ["a", "b"], "rater": ["x", "y"], "score": [1.0, 2.0]}))
    assert table["icc"].isna().all() and table["reading"].isna().all()
    assert table["n_recordings"].eq(0).all()


def test_rejects_two_scores_for_one_recording_and_rater():
    ratings = pd.DataFrame({"recording": ["a", "a"], "rater": ["x", "x"], "score": [1.0, 2.0]})
    with pytest.raises(ValueError, match="share their recording, rater"):
        icc_table(ratings)


def test_rejects_unknown_design():
    with pytest.raises(ValueError, match="design must be one of"):
        icc_table(shrout_fleiss(), design="complete")


@pytest.mark.parametrize(
    ("value", "bands", "label"),
    [
        (0.39, "cicchetti_1994", "poor"),
        (0.40, "cicchetti_1994", "fair"),
        (0.59, "cicchetti_1994", "fair"),
        (0.60, "cicchetti_1994", "good"),
        (0.74, "cicchetti_1994", "good"),
        (0.75, "cicchetti_1994", "excellent"),
        (0.49, "koo_li_2016", "poor"),
        (0.50, "koo_li_2016", "moderate"),
        (0.75, "koo_li_2016", "good"),
        (0.90, "koo_li_2016", "excellent"),
        (0.666, "krippendorff_2004", "unreliable"),
        (0.667, "krippendorff_2004", "tentative"),
        (0.800, "krippendorff_2004", "reliable"),
        (np.nan, "cicchetti_1994", None),
    ],
)
def test_readings(value, bands, label):
    assert reading(value, bands) == label


def test_koo_li_bands_can_replace_cicchetti():
    table = icc_table(shrout_fleiss(), bands="koo_li_2016").set_index("form")
    assert table.loc["ICC3", "reading"] == "moderate"
    assert table["reading_source"].str.startswith("Koo & Li (2016)").all()
