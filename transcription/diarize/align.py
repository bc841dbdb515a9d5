"""A transcript's segments given the speakers of the turns, split wherever the speaker changes
within one, so that no segment mixes two speakers."""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence

import numpy as np

from transcription.diarize.options import AlignOptions
from transcription.diarize.turns import Turn
from transcription.transcript import Segment, Transcript, Word, speaker_label


def make_segment(start: float, end: float, text: str, words: list[Word], speaker: str | None,
                 confidence: float | None) -> Segment:
    return Segment(start=start, end=end, text=text, words=words, speaker=speaker, speaker_confidence=confidence)


def join_words(words: Sequence[Word]) -> str:
    return " ".join(word.word for word in words).strip()


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _speaker_at(start: float, end: float, turns: Sequence[Turn], starts: list[float]) -> Turn | None:
    """The turn overlapping [start, end] most; failing any, the nearest one."""
    if not turns:
        return None
    index = bisect.bisect_right(starts, end)
    best, best_overlap = None, 0.0
    for turn in turns[max(0, index - 8) : index + 1]:
        overlap = _overlap(start, end, turn.start, turn.end)
        if overlap > best_overlap:
            best, best_overlap = turn, overlap
    if best is not None:
        return best
    middle = (start + end) / 2
    candidates = turns[max(0, index - 2) : index + 2] or turns
    return min(candidates, key=lambda t: max(t.start - middle, middle - t.end, 0.0))


def _sentence_starts(words: Sequence[Word]) -> set[int]:
    """Indexes i at which a sentence starts: 0, len(words), and after each word ending in . ? or !."""
    return {0, len(words)} | {i + 1 for i, word in enumerate(words) if word.word.rstrip("\"')").endswith((".", "?", "!"))}


def _snap_to_sentences(words: Sequence[Word], found: list[Turn | None], reach: int) -> list[Turn | None]:
    """Move each change of speaker between words to a sentence boundary (or the segment's edge)
    at most `reach` words away. Whisper's word times are loose by a word or so at a change of
    speaker (a last word often runs on into the pause), and people hand over at the end of a
    sentence far more often than in the middle of one."""
    found = list(found)
    boundaries = sorted(_sentence_starts(words))
    i = 1
    while i < len(found):
        before, after = found[i - 1], found[i]
        changed = (before is None) != (after is None) or (before is not None and before.speaker != after.speaker)
        if not changed or i in boundaries:
            i += 1
            continue
        near = [b for b in boundaries if abs(b - i) <= reach]
        if not near:
            i += 1
            continue
        target = min(near, key=lambda b: (abs(b - i), b))
        if target < i:
            found[target:i] = [after] * (i - target)
        else:
            found[i:target] = [before] * (target - i)
        i = max(i, target) + 1
    return found


def assign_speakers(transcript: Transcript, turns: Sequence[Turn], options: AlignOptions = AlignOptions()
                    ) -> Transcript:
    """The transcript with each segment given its speaker ("speaker 1", ...), and any segment
    whose words span a change of speaker split there, so no segment mixes two speakers.

    A word belongs to the turn it overlaps most (a word in a pause, to the nearest turn). A segment
    left whole keeps Whisper's text and times; the parts of a split one take theirs from their
    words. `speaker_confidence` is the mean confidence of the turns its words fall in.
    """
    turns = sorted(turns, key=lambda t: t.start)
    starts = [turn.start for turn in turns]
    segments = []
    for segment in transcript.segments:
        if not segment.words:
            turn = _speaker_at(segment.start, segment.end, turns, starts)
            # Kept whole, as it is (an inaudible stretch stays marked).
            segments.append(dataclasses.replace(segment, speaker=None if turn is None else speaker_label(turn.speaker),
                                                speaker_confidence=None if turn is None else turn.confidence))
            continue
        found = [_speaker_at(word.start, word.end, turns, starts) for word in segment.words]
        found = _snap_to_sentences(segment.words, found, options.snap_words)
        speakers = [None if turn is None else turn.speaker for turn in found]
        pieces: list[tuple[int, int]] = []
        for i, speaker in enumerate(speakers):
            if pieces and speakers[pieces[-1][0]] == speaker:
                pieces[-1] = (pieces[-1][0], i + 1)
            else:
                pieces.append((i, i + 1))
        for n, (first, last) in enumerate(pieces):
            words = segment.words[first:last]
            speaker = speakers[first]
            confidences = [found[i].confidence for i in range(first, last) if found[i] is not None]
            confidence = round(float(np.mean(confidences)), 3) if confidences else None
            label = None if speaker is None else speaker_label(speaker)
            if len(pieces) == 1:
                segments.append(make_segment(segment.start, segment.end, segment.text, list(words), label, confidence))
            else:
                # Marked as one line with the next, so that a person giving both one speaker joins them again.
                segments.append(dataclasses.replace(
                    make_segment(words[0].start, words[-1].end, join_words(words), list(words), label, confidence),
                    joins_next=n < len(pieces) - 1))
    return dataclasses.replace(transcript, segments=segments)
