"""No speech silently lost: what voice activity detection heard and the transcript's words do not cover
is recognised again on its own, and what still yields nothing is marked for the rater.

Whisper drops speech: the rest of a window after a long segment, a short answer between two long turns,
a turn that begins while the previous speaker trails off. It also goes round in circles, one phrase
repeated in place of what was said. A supervisor scoring from the transcript cannot hear what the page
does not show, so after recognition:

0. a phrase repeated back to back more often than people say it is cut back to its first occurrence
   (`without_loops`), leaving the time it took uncovered;
1. the speech regions Silero VAD finds are compared with the time the words cover (each word widened by
   `word_margin`, as word timings are approximate); speech left uncovered for at least `min_gap`
   seconds is a gap;
2. each gap is recognised again alone, with a little context either side and without the previous
   text as prompt (a gap longer than Whisper's window in pieces cut at its pauses), and the words it
   yields inside the gap are kept as a segment of their own;
3. speech that the second recognition still leaves uncovered becomes an inaudible segment,
   "[inaudible 0:57–1:06]", which every page and export shows, so that the rater knows to listen there.

Pure functions of audio and segments; the engines supply the recogniser for one clip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from transcription.formats import clock
from transcription.media import SAMPLE_RATE
from transcription.transcript import Segment, Word


@dataclass(frozen=True)
class CoverageOptions:
    # Speech uncovered for less than this is the ordinary slack of word timings, not lost speech.
    min_gap: float = 1.0
    # Word timings are approximate by a few tenths of a second either side.
    word_margin: float = 0.3
    # Audio either side of a gap given to the second recognition: a word cut at the edge is still heard.
    context: float = 0.5
    # Speech regions closer than this are one stretch (a breath inside a turn).
    join: float = 0.3
    # A phrase of up to `loop_phrase` words said `loop_repeats` times back to back (a single word twice
    # as often) is taken for a decoding loop: people repeat themselves, but not like that.
    loop_phrase: int = 8
    loop_repeats: int = 4


# Recognise stretches of the audio, each alone (start and end in seconds): for each, its segments, timed
# on the recording. Given all at once, so that an engine can decode them in batches.
RegionRecogniser = Callable[[list[tuple[float, float]]], list[list[Segment]]]


def one_at_a_time(audio: np.ndarray, recognise_clip: Callable[[np.ndarray], list[Segment]]) -> RegionRecogniser:
    """A RegionRecogniser from a function that recognises one clip, timed from the clip's start."""
    def recognise(regions: list[tuple[float, float]]) -> list[list[Segment]]:
        found = []
        for start, end in regions:
            clip = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
            found.append([dataclasses.replace(s, start=s.start + start, end=s.end + start, words=[
                Word(w.start + start, w.end + start, w.word, w.probability) for w in s.words])
                for s in recognise_clip(clip)])
        return found
    return recognise


# Whisper decodes at most 30 seconds at once; a little less leaves room for the context either side of a gap.
WINDOW = 28.0


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Where Silero VAD (as faster-whisper ships it: transcription/vad.py) hears speech, in seconds, each region at most
    `WINDOW` long. One pass serves both the first recognition and the check of what it covered."""
    from faster_whisper.vad import VadOptions

    from transcription.vad import speech_seconds

    return speech_seconds(audio, VadOptions(min_silence_duration_ms=300, max_speech_duration_s=WINDOW))


def windows(spans: list[tuple[float, float]], limit: float = WINDOW) -> list[tuple[float, float]]:
    """Stretches of the recording to decode each alone: consecutive spans gathered while the stretch from
    the first one's start to the last one's end stays within `limit` seconds, and a span longer than
    that cut into pieces. A stretch is the recording as it is, its pauses kept: speech cut out and
    joined end to end (as faster-whisper's batched pipeline does by default) loses turns at the joins,
    7% of a scripted dialogue's words against none (measured, before the coverage pass)."""
    stretches: list[tuple[float, float]] = []
    for start, end in spans:
        while end - start > limit:
            stretches.append((start, start + limit))
            start += limit
        if stretches and end - stretches[-1][0] <= limit and start >= stretches[-1][1]:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((start, end))
    return stretches


def _merged(spans: list[tuple[float, float]], join: float = 0.0) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + join:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def uncovered(speech: list[tuple[float, float]], segments: list[Segment],
              options: CoverageOptions = CoverageOptions()) -> list[tuple[float, float]]:
    """The stretches of `speech` that no word of `segments` covers, each at least `min_gap` long."""
    # A segment without word times (openai-whisper may give none) covers its own span.
    covered = _merged([(w.start - options.word_margin, w.end + options.word_margin)
                       for s in segments if not s.inaudible for w in s.words]
                      + [(s.start, s.end) for s in segments if not s.words and not s.inaudible])
    gaps = []
    for start, end in _merged(speech, options.join):
        cursor = start
        for cover_start, cover_end in covered:
            if cover_end <= cursor or cover_start >= end:
                continue
            if cover_start - cursor >= options.min_gap:
                gaps.append((cursor, cover_start))
            cursor = max(cursor, cover_end)
        if end - cursor >= options.min_gap:
            gaps.append((cursor, end))
    return gaps


def _key(word: Word) -> str:
    return word.word.strip(" .,?!;:\"'").lower()


def _loop_at(keys: list[str], start: int, options: CoverageOptions) -> tuple[int, int]:
    """(the phrase's length, how many times it comes) for a phrase from `start` repeated back to back past
    what people say, or (0, 0): a phrase of two words or more `loop_repeats` times, one word twice as often."""
    for size in range(1, options.loop_phrase + 1):
        phrase = keys[start:start + size]
        if len(phrase) < size or not all(phrase):
            break
        repeats = 1
        while keys[start + repeats * size:start + (repeats + 1) * size] == phrase:
            repeats += 1
        if repeats >= (options.loop_repeats if size > 1 else 2 * options.loop_repeats):
            return size, repeats
    return 0, 0


def without_loops(segments: list[Segment], options: CoverageOptions = CoverageOptions()) -> list[Segment]:
    """The segments with Whisper's repeated-phrase loops cut back to the phrase's first occurrence. A loop
    is the decoder going round in circles, not speech; its time is then left uncovered, so `recover`
    recognises what was said there afresh."""
    cleaned = []
    for segment in segments:
        keys, kept, i = [_key(w) for w in segment.words], [], 0
        while i < len(keys):
            size, repeats = _loop_at(keys, i, options)
            if size:
                kept += segment.words[i:i + size]
                i += size * repeats
            else:
                kept.append(segment.words[i])
                i += 1
        if len(kept) == len(segment.words):
            cleaned.append(segment)
        elif kept:
            cleaned.append(dataclasses.replace(segment, start=kept[0].start, end=kept[-1].end,
                                               text=" ".join(w.word for w in kept), words=kept))
    return cleaned


def inaudible(start: float, end: float) -> Segment:
    return Segment(start=start, end=end, text=f"[inaudible {clock(start)}–{clock(end)}]", inaudible=True)


def _within(speech: list[tuple[float, float]], gap: tuple[float, float]) -> list[tuple[float, float]]:
    """The speech regions that overlap `gap`, clipped to it."""
    start, end = gap
    return [(max(s, start), min(e, end)) for s, e in speech if e > start and s < end]


def _pieces(gap: tuple[float, float], speech: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    """A gap as stretches Whisper decodes whole, cut at pauses in its speech where it is longer than
    `limit` (a cut mid-turn loses the turn: the decoder ends the clip where the words break off)."""
    start, end = gap
    if end - start <= limit:
        return [gap]
    return windows(_within(speech, gap) or [gap], limit)


def recover(audio: np.ndarray, segments: list[Segment], recognise: RegionRecogniser,
            options: CoverageOptions = CoverageOptions(),
            speech: list[tuple[float, float]] | None = None) -> list[Segment]:
    """`segments` with every gap of the speech filled: recognised again, and what that leaves uncovered
    marked inaudible; in time order."""
    speech = speech_regions(audio) if speech is None else speech
    gaps = [piece for gap in uncovered(speech, segments, options)
            for piece in _pieces(gap, speech, WINDOW - 2 * options.context)]
    duration = len(audio) / SAMPLE_RATE
    regions = [(max(start - options.context, 0.0), min(end + options.context, duration)) for start, end in gaps]
    found = []
    for (start, end), recognised in zip(gaps, recognise(regions) if regions else [], strict=True):
        # Only what lies in the gap: the context either side was recognised the first time.
        words = [w for s in recognised for w in s.words if start <= (w.start + w.end) / 2 <= end]
        again = without_loops([Segment(start=words[0].start, end=words[-1].end, text=" ".join(w.word for w in words),
                                       words=words)], options) if words else []
        found += again
        still = uncovered(_within(speech, (start, end)) or [(start, end)], again, options)
        found += [inaudible(a, b) for a, b in still]
    return sorted([*segments, *found], key=lambda s: (s.start, s.end))
