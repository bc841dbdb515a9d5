"""Validating a rater's scores and scoring a tape by the scale's pass rule."""

from __future__ import annotations

import re

import pytest

from rating.phases import Phase
from rating.scale import PassRule, load_scale
from rating.scoring import RatingError, score_rating, validate_scores
from tests.rating.scale_files import course_document, write_scale


@pytest.fixture(scope="module")
def scale():
    return load_scale()


def every_item(scale, phase, score=3, **overrides):
    """Scores for every item of a phase's sessions, `score` unless overridden by id (with _ for -)."""
    overrides = {item_id.replace("_", "-"): value for item_id, value in overrides.items()}
    return {item.id: overrides.get(item.id, score) for item in scale.items_for(phase)}


def test_a_tape_scored_exactly_at_the_pass_mark_passes(scale):
    result = score_rating(scale, Phase.MIDDLE, every_item(scale, Phase.MIDDLE, 3))
    assert result.passed and result.reasons == ()
    assert (result.n_items, result.total, result.mean) == (11, 33, 3.0)
    assert list(result.item_scores) == [item.id for item in scale.items_for(Phase.MIDDLE)]
    assert result.scale_version == "dit-default-1.0"


def test_a_mean_just_below_the_pass_mark_fails_and_says_so(scale):
    result = score_rating(scale, "middle", every_item(scale, "middle", 3, defences=2))
    assert not result.passed
    assert result.reasons == ("mean 2.9 is below 3.0",)
    assert result.mean == pytest.approx(32 / 11)


def test_a_zero_item_fails_the_tape_whatever_the_mean(scale):
    result = score_rating(scale, "initial", every_item(scale, "initial", 6, risk=0))
    assert result.mean > 5 and not result.passed
    assert result.reasons == ("'risk' scored 0 (no item may score below 1)",)


def test_a_low_mean_and_zero_items_give_every_reason(scale):
    result = score_rating(scale, "ending", every_item(scale, "ending", 2, goodbye_letter=0, affect=0))
    assert result.reasons == (
        "mean 1.5 is below 3.0",
        "'affect' scored 0 (no item may score below 1)",
        "'goodbye-letter' scored 0 (no item may score below 1)",
    )


def test_nothing_scored_is_not_a_pass(scale):
    result = score_rating(scale, "ending", {})
    assert (result.n_items, result.total, result.mean, result.passed) == (0, 0, None, False)
    assert result.reasons == ("no item is scored",)


def test_a_draft_is_scored_over_the_items_rated_so_far(scale):
    result = score_rating(scale, "initial", {"risk": 4, "goals": 3, "alliance": None})
    assert result.item_scores == {"goals": 3, "risk": 4}
    assert (result.n_items, result.total, result.mean, result.passed) == (2, 7, 3.5, True)


def test_the_mean_is_compared_exactly_and_shown_cut_not_rounded():
    # 11 / 5 is exactly 2.2, though 2.2 * 5 in binary floating point is a hair above 11.
    assert PassRule(min_mean=2.2).failures({f"item-{n}": score for n, score in enumerate([2, 2, 2, 2, 3])}) == ()
    # 8 / 3 = 2.666..., shown as 2.66 so that a mean just short of a mark never shows as the mark.
    assert PassRule(min_mean=3.0).failures({"a": 3, "b": 3, "c": 2}) == ("mean 2.66 is below 3.0",)
    assert PassRule(min_mean=3.0, min_item_score=None).failures({"a": 0, "b": 6}) == ()


def test_a_course_scale_scores_by_its_own_range_and_rule(tmp_path):
    scale = load_scale(write_scale(tmp_path, course_document()))
    passed = score_rating(scale, "middle", {"focus": 5, "transference": 4})
    assert passed.passed and passed.mean == 4.5
    failed = score_rating(scale, "middle", {"focus": 7, "transference": 2})
    assert failed.reasons == ("'transference' scored 2 (no item may score below 3)",)
    with pytest.raises(RatingError, match=re.escape("Score 0 for 'focus' is outside 1-7.")):
        validate_scores(scale, "middle", {"focus": 0}, complete=False)


def test_a_complete_valid_rating_passes_validation(scale):
    for phase in Phase:
        validate_scores(scale, phase, every_item(scale, phase, 6), complete=True)
        validate_scores(scale, phase.value, every_item(scale, phase, 0), complete=True)


def test_a_draft_may_leave_items_unscored(scale):
    validate_scores(scale, "middle", {}, complete=False)
    validate_scores(scale, "middle", {"ipaf-focus": None, "alliance": 4}, complete=False)


@pytest.mark.parametrize(
    ("scores", "item_id", "problem"),
    [
        ({"ipaf-focus": 7}, "ipaf-focus", "Score 7 for 'ipaf-focus' is outside 0-6."),
        ({"ipaf-focus": -1}, "ipaf-focus", "Score -1 for 'ipaf-focus' is outside 0-6."),
        ({"goodbye-letter": 3}, "goodbye-letter",
         "'goodbye-letter' belongs to the ending phase; this session is in the middle phase."),
        ({"risk": None}, "risk", "'risk' belongs to the initial phase; this session is in the middle phase."),
        ({"ipaf-fokus": 3}, "ipaf-fokus", "'ipaf-fokus' is not an item of the scale dit-default-1.0."),
        ({"defences": 3.5}, "defences", "Score 3.5 for 'defences' is not a whole number."),
        ({"defences": "3"}, "defences", "Score '3' for 'defences' is not a whole number."),
        ({"defences": True}, "defences", "Score True for 'defences' is not a whole number."),
    ],
)
def test_a_wrong_score_is_refused_beside_its_item(scale, scores, item_id, problem):
    for complete in (False, True):
        with pytest.raises(RatingError) as raised:
            validate_scores(scale, "middle", every_item(scale, "middle") | scores, complete=complete)
        assert raised.value.errors == {item_id: problem}
        assert str(raised.value) == problem


def test_submitting_needs_every_item_scored(scale):
    scores = every_item(scale, "ending", 4, ending_feelings=None)
    del scores["relapse-prevention"], scores["affect"]
    with pytest.raises(RatingError) as raised:
        validate_scores(scale, "ending", scores, complete=True)
    assert str(raised.value) == (
        "Score every item before submitting: 3 not scored: affect, ending-feelings, relapse-prevention."
    )
    assert raised.value.errors == dict.fromkeys(["affect", "ending-feelings", "relapse-prevention"], "Not scored.")


def test_every_problem_is_reported_together(scale):
    with pytest.raises(RatingError) as raised:
        validate_scores(scale, "initial", {"risk": 9, "ipaf-focus": 2, "goals": 3}, complete=True)
    message = str(raised.value)
    assert message.startswith(
        "Score 9 for 'risk' is outside 0-6. "
        "'ipaf-focus' belongs to the middle phase; this session is in the initial phase. "
        "Score every item before submitting: 10 not scored: analytic-stance, "
    )
    assert set(raised.value.errors) == {"risk", "ipaf-focus"} | {
        item.id for item in scale.items_for("initial") if item.id not in ("risk", "goals")
    }


def test_scoring_refuses_invalid_scores(scale):
    with pytest.raises(RatingError, match=re.escape("Score 7 for 'ipaf-focus' is outside 0-6.")):
        score_rating(scale, "middle", {"ipaf-focus": 7})


def test_scores_must_be_a_mapping_and_the_phase_a_session_phase(scale):
    with pytest.raises(RatingError, match=re.escape("Scores must map each item id to a score.")) as raised:
        validate_scores(scale, "middle", [3, 4], complete=False)
    assert raised.value.errors == {}
    with pytest.raises(ValueError, match=re.escape("A session's phase is one of initial, middle, ending, not 'all'.")):
        validate_scores(scale, "all", {}, complete=False)
