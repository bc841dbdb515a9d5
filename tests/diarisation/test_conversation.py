"""Who is speaking in a real conversation: two women on the telephone, turns of under a second and
overlapping speech, against the reference turns published with it (speechfixtures.recorded.conversation)."""

from __future__ import annotations

import pytest

from speechfixtures.recorded import conversation
from transcription.diarize import assign_speakers, diarise
from transcription.diarize.error_rate import diarisation_error
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
    as short as 0.4 s. So lines score worse than turns: this guards what is reached (0.13 on this
    recording), not the 0.10 target the turns meet."""
    path, reference = recorded
    lines = assign_speakers(engine.transcribe(path), found.turns).segments
    scored = [(s.start, s.end, s.speaker) for s in lines if s.end > s.start]
    error = diarisation_error(reference, scored, collar=0.25)
    assert error.rate <= 0.16, error
    # Both women's words are there, each line given to one of them.
    assert {s.speaker for s in lines} == {"speaker 1", "speaker 2"}
    assert "new jersey" in " ".join(s.text for s in lines).lower()
