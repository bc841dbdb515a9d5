"""A transcript or a diarisation measured against what is known to be said, and by whom."""

from __future__ import annotations

import jiwer

from speechfixtures.dialogue import Line
from transcription.transcript import Transcript


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate, ignoring case and punctuation."""
    normalise = jiwer.Compose([
        jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ])
    return jiwer.wer(reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise)


def reference(lines: list[Line]) -> list[tuple[float, float, str]]:
    """The reference turns of a scripted dialogue, as `diarisation_error` takes them."""
    return [(line.start, line.end, line.role) for line in lines]


def role_at(lines: list[Line], time: float) -> str:
    """The role speaking at `time`, or the nearest line's role in a pause."""
    return min(lines, key=lambda line: max(line.start - time, time - line.end, 0.0)).role


def role_accuracy(transcript: Transcript, lines: list[Line]) -> float:
    """The fraction of the transcript's words whose segment has the role of the line they were said in."""
    words = [(word, segment.speaker) for segment in transcript.segments for word in segment.words]
    if not words:
        return 0.0
    right = sum(role_at(lines, (word.start + word.end) / 2) == speaker for word, speaker in words)
    return right / len(words)
