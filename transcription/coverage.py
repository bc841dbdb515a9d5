"""No speech silently lost: what voice activity detection heard and the transcript's words do not cover
is recognised again on its own, and what still yields nothing is marked for the rater.

Whisper drops speech: the rest of a window after a long segment, a short answer between two long turns,
a turn that begins while the previous speaker trails off. It also goes round in circles, one phrase
repeated in place of what was said. A supervisor scoring from the transcript cannot hear what the page
does not show, so after recognition:

0. a phrase repeated back to back more often than people say it is cut back to its first occurrence
   (`without_loops`), leaving the time it took uncovered;
1. where a word's timing spans more speech than a word takes, Whisper has stretched it over words it
   dropped ("do" given 2.6 s of a sentence that never appeared, measured): its line and the lines either
   side are recognised again alone, and the new words replace the old there when they are more
   (`restretched`);
2. the speech regions Silero VAD finds are compared with the time the words cover (each word widened by
   `word_margin`, as word timings are approximate); speech left uncovered for at least `min_gap`
   seconds is a gap;
3. each gap is recognised again alone, with a little context either side and without the previous
   text as prompt (a gap longer than Whisper's window in pieces cut at its pauses), and the words it
   yields inside the gap are kept as lines of their own; what that leaves uncovered is recognised once
   more, one speech region at a time;
4. speech that these recognitions still leave uncovered becomes an inaudible segment,
   "[inaudible 0:57–1:06]", which every page and export shows, so that the rater knows to listen there;
5. words are fitted inside the speech they overlap (`fitted`): a last word run on over silence ends
   where the speech does.

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
    # A word whose timing covers this much speech hides words Whisper dropped: in the scripted dialogues
    # spoken words take at most 0.9 s, in JFK's slow oratory 1.3 s with the pause after it (measured).
    # A false alarm costs one clip decoded again, as the old words stay unless the new are more.
    stretched_word: float = 1.0


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


def _with_words(segment: Segment, words: list[Word]) -> Segment:
    """`segment` holding only `words` (some of its own, in order): its span and text theirs."""
    return dataclasses.replace(segment, start=words[0].start, end=words[-1].end,
                               text=" ".join(w.word for w in words), words=words)


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
            cleaned.append(_with_words(segment, kept))
    return cleaned


def stretched(speech: list[tuple[float, float]], segments: list[Segment],
              options: CoverageOptions = CoverageOptions()) -> list[tuple[float, float]]:
    """Stretches to recognise again because a word in them covers `stretched_word` seconds of speech or more:
    from the start of the line before the word's to the end of the line after, a little either side, so
    that the stretch begins and ends at words. The words Whisper dropped lie around the stretched one, and
    a stretch cut by VAD inside a sentence loses the sentence again (measured). At most a window long:
    else the word's own line."""
    lines = [s for s in segments if not s.inaudible and s.words]
    margin = options.word_margin
    clips = []
    for i, line in enumerate(lines):
        if not any(sum(e - s for s, e in _within(speech, (w.start, w.end))) >= options.stretched_word
                   for w in line.words):
            continue
        floor = lines[i - 2].end if i >= 2 else 0.0
        ceiling = lines[i + 2].start if i + 2 < len(lines) else line.end + WINDOW
        start = max(lines[max(i - 1, 0)].start - margin, floor)
        end = min(lines[min(i + 1, len(lines) - 1)].end + margin, ceiling)
        if end - start > WINDOW:
            start = max(line.start - margin, lines[i - 1].end if i else 0.0)
            end = min(line.end + margin, lines[i + 1].start if i + 1 < len(lines) else line.end + margin, start + WINDOW)
        clips.append((max(start, 0.0), end))
    return clips


def _middle(word: Word) -> float:
    return (word.start + word.end) / 2


def _cut(segments: list[Segment], keep: Callable[[float], bool]) -> list[Segment]:
    """`segments` with only the words whose middle `keep` accepts (a segment without word times: by its
    own middle). A segment that loses words in its middle becomes one segment per run of words kept, so
    that what replaces them falls between, in time order."""
    kept = []
    for segment in segments:
        if not segment.words:
            if keep((segment.start + segment.end) / 2):
                kept.append(segment)
            continue
        runs: list[list[Word]] = [[]]
        for word in segment.words:
            if keep(_middle(word)):
                runs[-1].append(word)
            elif runs[-1]:
                runs.append([])
        if runs[0] == segment.words:
            kept.append(segment)
            continue
        kept += [_with_words(segment, run) for run in runs if run]
    return kept


def _word_count(segments: list[Segment]) -> int:
    return sum(len(s.words) or len(s.text.split()) for s in segments if not s.inaudible)


def restretched(segments: list[Segment], speech: list[tuple[float, float]], recognise: RegionRecogniser,
                options: CoverageOptions = CoverageOptions()) -> list[Segment]:
    """`segments` with every stretch around a stretched word (`stretched`) recognised again alone, and its
    new words in place of the old where they are more: a dropped sentence comes back, and a slow speaker's
    long word, recognised the same again, changes nothing."""
    clips = stretched(speech, segments, options)
    for (start, end), recognised in zip(clips, recognise(clips) if clips else [], strict=True):
        def inside(at: float, start: float = start, end: float = end) -> bool:
            return start <= at < end

        again = without_loops(_cut(recognised, inside), options)
        if _word_count(again) > _word_count(_cut(segments, inside)):
            kept = _cut(segments, lambda at: not inside(at))
            segments = [*kept, *_seamless(again, [w for s in kept for w in s.words], start, end)]
    return sorted(segments, key=lambda s: (s.start, s.end))


def _seamless(again: list[Segment], kept: list[Word], start: float, end: float, within: float = 1.0) -> list[Segment]:
    """`again` (recognised afresh between `start` and `end`) without a first or last word that repeats the
    kept word just outside, within `within` seconds: Whisper times a clip's first word from the clip's start,
    so the word before the clip can come back inside it ("and and so my fellow Americans", measured)."""
    words = [w for s in again for w in s.words]
    before = max((w for w in kept if w.end <= start + within and _middle(w) < start),
                 key=lambda w: w.end, default=None)
    after = min((w for w in kept if w.start >= end - within and _middle(w) >= end),
                key=lambda w: w.start, default=None)
    repeated = set()
    if words and before and _key(words[0]) == _key(before) and words[0].start - before.end < within:
        repeated.add(id(words[0]))
    if words and after and _key(words[-1]) == _key(after) and after.start - words[-1].end < within:
        repeated.add(id(words[-1]))
    if not repeated:
        return again
    return [_with_words(s, ws) for s in again if (ws := [w for w in s.words if id(w) not in repeated])]


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


def _regions(gap: tuple[float, float], speech: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    """A gap as its speech regions, each decoded alone."""
    return [piece for region in _within(speech, gap) or [gap] for piece in windows([region], limit)]


def recover(audio: np.ndarray, segments: list[Segment], recognise: RegionRecogniser,
            options: CoverageOptions = CoverageOptions(), speech: list[tuple[float, float]] | None = None,
            quick: RegionRecogniser | None = None) -> list[Segment]:
    """`segments` with stretched words' surroundings recognised again (`restretched`) and every gap of the
    speech filled: recognised again, and what that leaves uncovered marked inaudible; in time order.

    A gap is recognised whole first (by `quick`, if given: the batched decoder), then what that leaves
    uncovered one speech region at a time by `recognise`: a decoder can skip the first ten seconds of a
    23-second clip and give them in full alone, and two decoders fail in different places (measured)."""
    speech = speech_regions(audio) if speech is None else speech
    segments = restretched(segments, speech, recognise, options)
    duration, limit = len(audio) / SAMPLE_RATE, WINDOW - 2 * options.context
    gaps, found = uncovered(speech, segments, options), []
    for pieces, recogniser in ((_pieces, quick or recognise), (_regions, recognise)):
        gaps = [piece for gap in gaps for piece in pieces(gap, speech, limit)]
        regions = [(max(start - options.context, 0.0), min(end + options.context, duration)) for start, end in gaps]
        still = []
        for (start, end), recognised in zip(gaps, recogniser(regions) if regions else [], strict=True):
            # Only what lies in the gap: the context either side was recognised the first time.
            again = without_loops(_cut(recognised, lambda at, start=start, end=end: start <= at <= end), options)
            found += again
            still += uncovered(_within(speech, (start, end)) or [(start, end)], again, options)
        gaps = still
    return fitted(sorted([*segments, *found, *(inaudible(start, end) for start, end in gaps)],
                         key=lambda s: (s.start, s.end)), speech)


def fitted(segments: list[Segment], speech: list[tuple[float, float]]) -> list[Segment]:
    """Each word's start and end moved inside the speech regions it overlaps (padded by 0.4 s), and each
    line's span to its words': Whisper runs a sentence's last word on over the silence after it (a meeting's
    "link." lasted 2.4 s where its speech ended 1.2 s sooner, measured), which the player would highlight
    and the split by speaker would give to whoever spoke then. A word in no region keeps its times."""
    fitted_segments = []
    for segment in segments:
        words = []
        for word in segment.words:
            spoken = _within(speech, (word.start, word.end))
            start, end = (spoken[0][0], spoken[-1][1]) if spoken else (word.start, word.end)
            words.append(word if (start, end) == (word.start, word.end) else dataclasses.replace(word, start=start, end=end))
        if words != segment.words:
            segment = dataclasses.replace(segment, start=words[0].start, end=words[-1].end, words=words)
        fitted_segments.append(segment)
    return fitted_segments
