"""openai-whisper behind the engines' interface (transcription/engines.py), decoding as faster-whisper does."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from transcription.coverage import one_at_a_time
from transcription.engines import (
    DEFAULT_MODEL,
    FIRST_PASS,
    DecodeOptions,
    ProgressCallback,
    _covered,
    _scaled,
    _segment,
    by_blocks,
)
from transcription.media import SAMPLE_RATE
from transcription.transcript import Segment, Transcript, Word


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

    def __init__(self, model: str, device: str = "auto", models_dir: Path | None = None,
                 options: DecodeOptions = DecodeOptions(), threads: int | None = None) -> None:
        import torch
        import whisper

        if threads:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model_name = model
        self.options = options
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

    def _decode(self, audio: np.ndarray, language: str | None) -> dict:
        import whisper

        with self._lock:
            return whisper.transcribe(self.model, audio, language=language, beam_size=self.options.beam_size,
                                      best_of=self.options.beam_size, word_timestamps=True,
                                      condition_on_previous_text=False, fp16=self.fp16)

    def transcribe(self, audio_path: str | Path, progress: ProgressCallback | None = None) -> Transcript:
        return by_blocks(self, audio_path, progress)

    def transcribe_audio(self, audio: np.ndarray, language: str | None,
                         progress: ProgressCallback | None = None) -> tuple[list[Segment], str]:
        """16 kHz mono samples transcribed (`language` None: detected), timed from their start."""
        import whisper
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions

        from transcription.vad import speech_timestamps

        speech = speech_timestamps(audio, VadOptions(max_speech_duration_s=whisper.audio.CHUNK_LENGTH))
        language = language or (None if self.model.is_multilingual else "en")
        first_pass = _scaled(progress, FIRST_PASS)
        result = []
        for piece in _pieces(speech, whisper.audio.N_SAMPLES):
            decoded = self._decode(np.concatenate([audio[region["start"] : region["end"]] for region in piece]),
                                   language)
            # Detected once, on the first speech, rather than afresh for every piece.
            language = decoded["language"]
            result.extend(_segment(s.start, s.end, s.text, s.words)
                          for s in restore_speech_timestamps(_found(decoded), piece, SAMPLE_RATE))
            if first_pass:
                first_pass(min(piece[-1]["end"] / len(audio), 1.0))
        language = language or "en"  # a recording without speech has no language to detect
        result = _covered(audio, result, lambda regions: self.recognise_regions(audio, regions, language),
                          self.options, progress)
        return result, language

    def recognise_regions(self, audio: np.ndarray, regions: list[tuple[float, float]],
                          language: str) -> list[list[Segment]]:
        """Stretches of speech recognised each alone, one after another, timed on the recording."""
        return one_at_a_time(audio, lambda clip: self.recognise_clip(clip, language))(regions)

    def recognise_clip(self, clip: np.ndarray, language: str) -> list[Segment]:
        """A stretch of speech recognised alone, timed from its start."""
        return [_segment(s.start, s.end, s.text, s.words) for s in _found(self._decode(clip, language))]


def _found(decoded: dict) -> list[Segment]:
    return [Segment(s["start"], s["end"], s["text"], [Word(**w) for w in s.get("words", [])])
            for s in decoded["segments"]]
