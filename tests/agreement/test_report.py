import json

import numpy as np
import pandas as pd
import pytest

from rating.agreement import ICC_FORMS, LEVELS, agreement_by, agreement_report, read_ratings_csv, total_scores
from tests.agreement.examples import SHROUT_FLEISS_ICC, simulated_ratings

FIGURES = [*ICC_FORMS, *(f"alpha_{level}" for level in LEVELS)]


@pytest.fixture(scope="module")
def ratings():
    return simulated_ratings(n_recordings=120, n_raters=8, n_items=4)[0]


def write(tmp_path, text: str):
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    return path


def test_reads_long_format_ratings(tmp_path):
    path = write(
        tmp_path,
        "recording,item,rater,score,submitted_at\n"
        "rec1,item1,ana,3,2024-02-01T10:00:00\n"
        "rec1, item1 ,ben,4.5,2024-02-02\n"
        "007,item1,ana,2,2024-03-01\n",
    )
    ratings = read_ratings_csv(path)
    assert ratings["score"].tolist() == [3.0, 4.5, 2.0]
    assert ratings["item"].tolist() == ["item1"] * 3
    assert ratings.loc[2, "recording"] == "007"
    assert pd.api.types.is_datetime64_any_dtype(ratings["submitted_at"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("recording,rater,score\nrec1,ana,3\n", r"lacks the column\(s\) item"),
        (
            "recording,item,rater,score\nrec1,item1,ana,three\nrec1,item2,ana,\n",
            r"score is not a number \(line 2: 'three', line 3: ''\)",
        ),
        ("recording,item,rater,score\nrec1,item1,ana,inf\n", "score is not a number"),
        (
            "recording,item,rater,score\nrec1,item1,ana,3\nrec2,item1,ana,3\nrec1,item1,ana,4\n",
            "more than once, on lines 2, 4",
        ),
        ("recording,item,rater,score\nrec1,item1,,3\n", r"empty rater on line\(s\) 2"),
        ("recording,item,rater,score,submitted_at\nrec1,item1,ana,3,last tuesday\n", "submitted_at is not an ISO 8601"),
        ("", "is empty"),
    ],
)
def test_reader_errors_say_what_and_where(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_ratings_csv(write(tmp_path, text))


def test_report_has_every_figure_for_the_total_and_each_item(ratings):
    report = agreement_report(ratings, n_boot=200)
    assert report["level"] == "interval" and report["score"] == "total"
    for scope in [report, *report["items"].values()]:
        for name in FIGURES:
            figure = scope[name]
            assert set(figure) >= {"value", "ci95", "n_recordings", "n_raters", "reading"}
            assert len(figure["ci95"]) == 2
        assert isinstance(scope["n_recordings"], int) and isinstance(scope["n_raters"], int)
        assert scope["alpha"]["level"] == "interval"
        assert scope["alpha"]["value"] == scope["alpha_interval"]["value"]
        assert scope["recommended_icc"] == "ICC1" and scope["icc_design"] == "slots"
    assert sorted(report["items"]) == ["item1", "item2", "item3", "item4"]
    assert report["n_raters"] == 8 and report["n_items"] == 4
    assert report["n_recordings"] == total_scores(ratings)["recording"].nunique()
    json.dumps(report, allow_nan=False)


def test_report_level_picks_the_headline_alpha(ratings):
    report = agreement_report(ratings, level="ordinal", n_boot=0)
    assert report["alpha"]["level"] == "ordinal"
    assert report["alpha"]["value"] == report["alpha_ordinal"]["value"]
    assert report["alpha"]["ci95"] == [None, None]
    with pytest.raises(ValueError, match="level must be one of"):
        agreement_report(ratings, level="cardinal")


def test_report_on_a_crossed_design_recommends_icc2(tmp_path):
    from tests.agreement.examples import SHROUT_FLEISS

    lines = ["recording,item,rater,score"]
    lines += [f"t{t},i1,j{j},{SHROUT_FLEISS[t, j]:g}" for t in range(6) for j in range(4)]
    report = agreement_report(read_ratings_csv(write(tmp_path, "\n".join(lines) + "\n")), n_boot=100)
    assert report["recommended_icc"] == "ICC2" and report["ICC2"]["recommended"]
    for form, published in SHROUT_FLEISS_ICC.items():
        assert round(report[form]["value"], 2) == published
        assert round(report["items"]["i1"][form]["value"], 2) == published
    json.dumps(report, allow_nan=False)


def test_report_turns_missing_figures_into_null():
    ratings = pd.DataFrame({"recording": ["a", "b"], "item": ["i1", "i1"], "rater": ["x", "y"], "score": [1.0, 2.0]})
    report = agreement_report(ratings, n_boot=50)
    assert report["ICC1"]["value"] is None and report["alpha_interval"]["value"] is None
    assert report["ICC1"]["reading"] is None
    json.dumps(report, allow_nan=False)


def test_total_scores_are_prorated_over_unrated_items():
    ratings = pd.DataFrame(
        {
            "recording": ["r"] * 9,
            "item": ["i1", "i2", "i3", "i4", "i5", "i1", "i2", "i3", "i1"],
            "rater": ["a"] * 5 + ["b"] * 3 + ["c"],
            "score": [1.0, 2, 3, 4, 5, 2, 2, 5, 4],
        }
    )
    totals = total_scores(ratings, min_items_rated=0.6).set_index("rater")
    assert totals.loc["a", "score"] == 15
    assert totals.loc["b", "score"] == pytest.approx(3 * 5)
    # c rated one item in five, under the 60% asked for.
    assert "c" not in totals.index
    assert totals["n_items"].eq(5).all()


def test_agreement_by_item_phase_and_total(ratings):
    by_item = agreement_by(ratings, n_boot=0)
    assert len(by_item) == 4 * 10 and set(by_item["score"]) == {"item"}
    assert list(by_item.columns[:3]) == ["item", "score", "statistic"]
    by_phase = agreement_by(ratings, by=("phase",), n_boot=0)
    assert set(by_phase["phase"]) == {"initial", "middle", "ending"} and set(by_phase["score"]) == {"total"}
    both = agreement_by(ratings, by=("phase", "item"), n_boot=0)
    assert len(both) == 3 * 4 * 10
    total = agreement_by(ratings, by=(), n_boot=0)
    assert total["statistic"].tolist() == FIGURES
    alpha = total.set_index("statistic").loc["alpha_interval"]
    assert alpha["n_recordings"] <= 120 and alpha["n_raters"] == 8
    assert np.isfinite(total["value"]).all()


def test_agreement_by_item_equals_the_item_alone(ratings):
    from rating.agreement import alpha_table, icc_table

    item = ratings[ratings["item"] == "item2"]
    rows = agreement_by(ratings, n_boot=0).set_index(["item", "statistic"]).loc["item2"]
    np.testing.assert_allclose(rows.loc[list(ICC_FORMS), "value"], icc_table(item)["icc"])
    np.testing.assert_allclose(
        rows.loc[[f"alpha_{lv}" for lv in LEVELS], "value"], alpha_table(item, n_boot=0)["alpha"]
    )
