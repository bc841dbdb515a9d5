"""The quality gates, each on the edge of its threshold."""

from __future__ import annotations

import pytest

from transcription.quality import (
    MAX_DURATION_S,
    MIN_DURATION_S,
    MIN_SEPARATION,
    MIN_SPEAKER_SHARE,
    MIN_SPEECH_FRACTION,
    GateResult,
    flag,
    quality_gates,
)

GOOD_TALK = {"therapist": 600.0, "patient": 1200.0}


def gate(gates: list[GateResult], name: str) -> GateResult:
    return next(g for g in gates if g.name == name)


def test_thresholds_are_the_published_ones():
    assert (MIN_DURATION_S, MAX_DURATION_S, MIN_SPEECH_FRACTION, MIN_SPEAKER_SHARE) == (60, 5 * 3600, 0.25, 0.10)


def test_a_good_session_passes_everything():
    gates = quality_gates(3000.0, 1800.0, GOOD_TALK)
    assert [g.name for g in gates] == ["duration", "speech", "speakers"]
    assert all(g.passed for g in gates)
    assert flag(gates) is None
    assert gate(gates, "duration").reason == "The recording is 50:00 long."
    assert gate(gates, "speakers").reason == "Share of the talk time: the therapist 33%, the patient 67%."


@pytest.mark.parametrize(("duration", "passed"), [
    (59.9, False), (60.0, True), (5 * 3600.0, True), (5 * 3600.0 + 0.1, False)])
def test_duration_edges(duration, passed):
    result = gate(quality_gates(duration, duration / 2, GOOD_TALK), "duration")
    assert result.passed is passed


def test_duration_reasons_say_what_is_wrong():
    short = gate(quality_gates(45.0, 30.0, GOOD_TALK), "duration")
    assert short.reason.startswith("The recording is only 0:45 long; a session recording needs at least 1:00")
    long = gate(quality_gates(5.5 * 3600, 3600.0, GOOD_TALK), "duration")
    assert "5:30:00 long, more than the 5 hours" in long.reason


@pytest.mark.parametrize(("speech", "passed"), [(14.99, False), (15.0, True), (15.01, True)])
def test_speech_edge(speech, passed):
    assert gate(quality_gates(60.0, speech, GOOD_TALK), "speech").passed is passed


def test_speech_reason():
    result = gate(quality_gates(600.0, 60.0, GOOD_TALK), "speech")
    assert result.reason.startswith("Only 10% of the recording is speech (at least 25% is needed)")


@pytest.mark.parametrize(("patient", "passed"), [(5.99, False), (6.0, True), (6.01, True)])
def test_speaker_share_edge(patient, passed):
    # The patient's share of 60 s of talk: 10% is 6 s.
    result = gate(quality_gates(600.0, 300.0, {"therapist": 60.0 - patient, "patient": patient}), "speakers")
    assert result.passed is passed


def test_a_quiet_speaker_is_named():
    result = gate(quality_gates(600.0, 300.0, {"therapist": 290.0, "patient": 10.0}), "speakers")
    assert result.reason.startswith("The patient speaks for only 3% of the talk time (each speaker needs at least 10%)")


def test_diarised_speakers_are_numbered_from_one():
    result = gate(quality_gates(600.0, 300.0, {0: 290.0, 1: 10.0}), "speakers")
    assert result.reason.startswith("Speaker 2 speaks for only 3%")


@pytest.mark.parametrize("talk", [{"therapist": 300.0}, {"therapist": 300.0, "patient": 0.0}])
def test_one_voice_fails(talk):
    result = gate(quality_gates(600.0, 300.0, talk), "speakers")
    assert not result.passed
    assert result.reason.startswith("Only one voice was heard")


def test_no_voice_fails():
    gates = quality_gates(600.0, 0.0, {})
    assert gate(gates, "speakers").reason.startswith("No voice was heard")
    assert not gate(gates, "speech").passed


@pytest.mark.parametrize(("separation", "passed"), [(MIN_SEPARATION - 0.01, False), (MIN_SEPARATION, True)])
def test_voices_gate_edge(separation, passed):
    gates = quality_gates(600.0, 300.0, GOOD_TALK, separation=separation)
    assert gate(gates, "voices").passed is passed


def test_flag_gives_every_failed_reason():
    gates = quality_gates(30.0, 3.0, {"therapist": 3.0})
    assert [g.name for g in gates if not g.passed] == ["duration", "speech", "speakers"]
    message = flag(gates)
    assert message.startswith("The recording is only 0:30 long")
    assert "Only 10% of the recording is speech" in message and "Only one voice was heard" in message


def test_gate_results_round_trip():
    for result in quality_gates(30.0, 3.0, GOOD_TALK):
        assert GateResult.from_dict(result.to_dict()) == result
