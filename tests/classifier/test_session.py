import json

import pytest

from rating.classifier_session import DRIFTING, OFF_MODEL, ON_MODEL, session_verdict
from rating.phases import Phase
from tests.classifier.cases import (
    AFTERTHOUGHT,
    AFTERTHOUGHT_ECHOES,
    AFTERTHOUGHT_LINK,
    GENERIC,
    dialogue,
    transcript,
)

PROMPTS = ["Mm.", "Go on.", "What happened then?", "Could you say a bit more about that?", "Right.",
           "How did that feel?"]

CBT = [
    "For homework this week I'd like you to fill in a thought record whenever you feel low.",
    "Let's look at the evidence for and against the thought that nobody values you.",
    "Could you rate how strongly you believe it, from nought to a hundred?",
    "Then write down a more balanced alternative in the third column.",
    "Let's also schedule some pleasant activities each day, and rate them for mastery and pleasure.",
    "That's a thinking error called mind reading.",
]

LETTER_AND_ENDING = [
    "I've brought the goodbye letter I mentioned; shall I read it to you?",
    ("In the letter I've written about how often you've felt an afterthought, brushed aside by people who "
    "made use of you, and how resentful and hopeless that left you."),
    "How was it to hear that?",
    "We have three sessions left, and I wonder what the ending stirs up for you.",
    "Perhaps the ending feels like one more time you're dismissed, as if you never really mattered to me either.",
    "What would you like to add to the letter?",
]


def interleave(spine: list[str], fill: list[str], every: int) -> list[str]:
    """`fill` with a line of `spine` after every `every` lines, so the spine runs through the session."""
    lines, spine = [], list(spine)
    for i, line in enumerate(fill):
        lines.append(line)
        if (i + 1) % every == 0 and spine:
            lines.append(spine.pop(0))
    return lines + spine


def classify(model, therapist_lines, phase):
    session = dialogue(therapist_lines)
    return model.classify(session, AFTERTHOUGHT, phase)["session"]


def test_a_middle_phase_session_full_of_cbt_homework_is_off_model(seed_model):
    verdict = classify(seed_model, interleave(CBT, PROMPTS * 3, 3), Phase.MIDDLE)
    assert verdict["verdict"] == OFF_MODEL
    markers = {marker["marker"] for marker in verdict["off_model_markers"]}
    assert {"CBT homework", "thought record", "challenging a thought"} <= markers
    assert any("Off-model technique" in reason for reason in verdict["reasons"])
    first = verdict["off_model_markers"][0]
    assert set(first) == {"index", "start", "end", "marker"}
    assert first["end"] > first["start"]


def test_a_middle_phase_session_with_the_ipaf_as_its_spine_and_a_link_is_on_model(seed_model):
    lines = interleave([*AFTERTHOUGHT_ECHOES, AFTERTHOUGHT_LINK], PROMPTS * 4, 3)
    verdict = classify(seed_model, lines, "middle")
    assert verdict["verdict"] == ON_MODEL, verdict["reasons"]
    labels = {item["label"] for item in verdict["evidence"]}
    assert labels == {"ipaf_reference", "transference_link"}
    link = next(item for item in verdict["evidence"] if item["label"] == "transference_link")
    assert link["probability"] > 0.5 and link["end"] > link["start"]
    assert verdict["off_model_markers"] == []


def test_a_middle_phase_session_without_a_link_is_drifting(seed_model):
    verdict = classify(seed_model, interleave(AFTERTHOUGHT_ECHOES, PROMPTS * 4, 3), Phase.MIDDLE)
    assert verdict["verdict"] == DRIFTING
    assert any("not linked" in reason for reason in verdict["reasons"])


def test_a_middle_phase_session_that_follows_the_patient_from_topic_to_topic_is_off_model(seed_model):
    verdict = classify(seed_model, GENERIC + PROMPTS * 3, Phase.MIDDLE)
    assert verdict["verdict"] == OFF_MODEL
    assert verdict["evidence"] == []


def test_an_ending_phase_session_with_the_goodbye_letter_and_the_ending_is_on_model(seed_model):
    verdict = classify(seed_model, interleave(LETTER_AND_ENDING, PROMPTS * 2, 2), Phase.ENDING)
    assert verdict["verdict"] == ON_MODEL, verdict["reasons"]
    labels = {item["label"] for item in verdict["evidence"]}
    assert {"goodbye_letter", "ending", "ipaf_reference"} <= labels
    assert verdict["phase"] == "ending"


def test_an_ending_phase_session_without_the_letter_or_the_ending_is_not_on_model(seed_model):
    verdict = classify(seed_model, interleave(AFTERTHOUGHT_ECHOES, PROMPTS * 2, 2), Phase.ENDING)
    assert verdict["verdict"] == DRIFTING
    assert "The goodbye letter is not mentioned." in verdict["reasons"]
    assert classify(seed_model, GENERIC, Phase.ENDING)["verdict"] == OFF_MODEL


def test_in_the_initial_phase_a_forming_focus_is_enough(seed_model):
    inventory = ["Who are the important people in your life at the moment?", "Tell me about your manager.",
                 "What was it like growing up with your parents?", "And your partner, how do you two get on?"]
    lines = interleave(AFTERTHOUGHT_ECHOES[:2], inventory + PROMPTS * 2, 4)
    verdict = classify(seed_model, lines, Phase.INITIAL)
    assert verdict["verdict"] == ON_MODEL, verdict["reasons"]
    assert any("still being formed" in reason for reason in verdict["reasons"])
    assert classify(seed_model, inventory + PROMPTS, Phase.INITIAL)["verdict"] == OFF_MODEL


def test_without_a_phase_the_session_is_judged_on_the_focus(seed_model):
    verdict = classify(seed_model, interleave(AFTERTHOUGHT_ECHOES, PROMPTS * 4, 3), None)
    assert verdict["verdict"] == ON_MODEL
    assert verdict["phase"] is None
    assert any("No phase" in reason for reason in verdict["reasons"])


def test_a_patient_talking_about_past_cbt_is_no_off_model_marker(seed_model):
    session = transcript([("therapist", AFTERTHOUGHT_ECHOES[0]),
                          ("patient", "My last therapist gave me homework and thought records."),
                          ("therapist", AFTERTHOUGHT_LINK)])
    verdict = seed_model.classify(session, AFTERTHOUGHT, Phase.MIDDLE)["session"]
    assert verdict["off_model_markers"] == []


def test_the_verdict_is_plain_json(seed_model):
    session = dialogue(interleave(CBT, [AFTERTHOUGHT_LINK, *PROMPTS], 2))
    result = seed_model.classify(session, AFTERTHOUGHT, "middle")
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert set(result) == {"segments", "session"}
    assert set(result["session"]) == {"verdict", "phase", "reasons", "evidence", "off_model_markers"}
    for item in result["session"]["evidence"]:
        assert set(item) == {"index", "start", "end", "label", "probability"}


def test_an_unknown_phase_is_refused(seed_model):
    with pytest.raises(ValueError):
        session_verdict(dialogue(PROMPTS), [], "late")
