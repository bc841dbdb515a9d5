"""A transcript or a diarisation measured against what is known to be said, and by whom."""

from __future__ import annotations

import jiwer

from speechfixtures.dialogue import Line
from transcription.transcript import Transcript

NORMALISE = jiwer.Compose([
    jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
    jiwer.ReduceToListOfListOfWords(),
])


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate, ignoring case and punctuation."""
    return jiwer.wer(reference, hypothesis, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)


def deletions(reference: str, hypothesis: str) -> tuple[float, int]:
    """The share of the reference's words missing from the hypothesis, and the longest run of them
    missing together (in the word alignment behind the WER; case and punctuation ignored). A
    substitution is not a deletion: a misheard word still shows the rater that something was said."""
    output = jiwer.process_words(reference, hypothesis, reference_transform=NORMALISE,
                                 hypothesis_transform=NORMALISE)
    total = sum(len(words) for words in output.references)
    missing = [chunk.ref_end_idx - chunk.ref_start_idx
               for alignment in output.alignments for chunk in alignment if chunk.type == "delete"]
    return (sum(missing) / total if total else 0.0), max(missing, default=0)


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
