"""Who is speaking in real conversations, against the reference turns published with them: two women on
the telephone, turns of under a second and overlapping speech (speechfixtures.recorded.conversation), and
two men in a meeting, turns of one to twelve seconds (speechfixtures.recorded.meetings)."""

from __future__ import annotations

import pytest

from speechfixtures.recorded import conversation, meetings
from transcription.diarize import assign_speakers, diarise
from transcription.diarize.error_rate import diarisation_error, joined_lines
from transcription.media import load_channels


@pytest.fixture(scope="module")
def recorded():
    return conversation()


@pytest.fixture(scope="module")
def found(recorded, encoder):
    path, _ = recorded
    return diarise(load_channels(path), 2, encoder)


def test_the_turns_of_a_real_telephone_conversation_are_found_within_the_error_target(recorded, found):
    _, reference = recorded
    error = diarisation_error(reference, [(t.start, t.end, t.speaker) for t in found.turns], collar=0.25)
    # Issue 15's target: a diarisation error rate of at most 0.10 (0.25 s collar, overlap counted).
    assert error.rate <= 0.10, error
    assert found.speakers == 2 and error.false_alarm < 0.5


@pytest.mark.slow
def test_transcript_lines_of_a_real_conversation_keep_each_speaker_apart(recorded, found, engine):
    """Scored by the lines a rater reads, which cannot overlap: of this recording's 22.5 s of speech, 1.9 s
    is two people at once, and the one Whisper did not transcribe counts as missed (1.64 s of the error).
    Whisper also places words at a change of speaker only to within half a second or so, and turns here are
    as short as 0.4 s. So lines one by one score worse than turns (0.13 on this recording); joined into the
    turns a rater reads off the page, they meet the 0.10 target (0.059)."""
    path, reference = recorded
    lines = assign_speakers(engine.transcribe(path), found.turns).segments
    scored = [(s.start, s.end, s.speaker) for s in lines if s.end > s.start]
    error = diarisation_error(reference, scored, collar=0.25)
    assert error.rate <= 0.16, error
    assert diarisation_error(reference, joined_lines(scored), collar=0.25).rate <= 0.10
    # Both women's words are there, each line given to one of them.
    assert {s.speaker for s in lines} == {"speaker 1", "speaker 2"}
    assert "new jersey" in " ".join(s.text for s in lines).lower()


@pytest.fixture(scope="module")
def meetings_found(encoder):
    return [(path, reference, diarise(load_channels(path), 2, encoder)) for path, reference in meetings()]


def test_the_turns_of_real_two_person_meetings_are_found_within_the_error_target(meetings_found):
    """AMI's references count a speaker's pauses as their speech: dev00's turn from 1.4 to 13.3 s holds 1.8 s
    of silence (-55 to -70 dB) that no voice activity detection calls speech, and counts as missed unless the
    turn bridges it (0.049 and 0.082 measured; 0.13 and 0.08 bridging pauses under one second, 0.28 and 0.14
    bridging none). What the diarisation decides, who speaks, is right for all but a fraction of a second."""
    for path, reference, found in meetings_found:
        error = diarisation_error(reference, [(t.start, t.end, t.speaker) for t in found.turns], collar=0.25)
        assert found.speakers == 2, path.name
        assert error.confusion <= 0.03 * error.total and error.false_alarm <= 0.03 * error.total, (path.name, error)
        assert error.rate <= 0.10, (path.name, error)


@pytest.mark.slow
def test_transcript_lines_of_real_meetings_keep_each_speaker_apart(meetings_found, engine):
    """Lines one by one count every pause inside a turn missed (0.26 and 0.15 measured); joined into the
    turns a rater reads, they meet the target (0.045 and 0.072)."""
    for path, reference, found in meetings_found:
        lines = assign_speakers(engine.transcribe(path), found.turns).segments
        spoken = [(s.start, s.end, s.speaker) for s in lines if s.end > s.start]
        error = diarisation_error(reference, spoken, collar=0.25)
        assert error.confusion <= 0.03 * error.total, (path.name, error)
        assert diarisation_error(reference, joined_lines(spoken), collar=0.25).rate <= 0.10, path.name
        assert {s.speaker for s in lines} == {"speaker 1", "speaker 2"}, path.name
        if path.name.startswith("dev01"):
            # A 0.6 s question straight after the other man's sentence, no pause between: its own line and
            # speaker, found by windows shorter than the question (WindowOptions.short_length_s).
            before = next(s for s in lines if "in there" in s.text.lower())
            question = next(s for s in lines if "username" in s.text.lower() and 19 < s.start < 21)
            assert question.speaker != before.speaker and "in there" not in question.text.lower()
