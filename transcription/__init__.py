"""Media and speech: check and normalise recordings, transcribe them, write transcripts out.

Nothing here knows of HTTP or databases; `server/` wires these functions to both.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from transcription.engines import (
    DEFAULT_ENGINE,
    DEFAULT_MODEL,
    ENGINES,
    Engine,
    ProgressCallback,
    bundled_model_dir,
    load_engine,
)
from transcription.formats import FORMATS, MEDIA_TYPES
from transcription.media import MediaError, MediaInfo, load_audio, normalise, probe
from transcription.transcript import Segment, Transcript, Word

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MODEL",
    "ENGINES",
    "FORMATS",
    "MEDIA_TYPES",
    "Engine",
    "MediaError",
    "MediaInfo",
    "ProgressCallback",
    "Segment",
    "Transcript",
    "Word",
    "bundled_model_dir",
    "load_audio",
    "load_engine",
    "normalise",
    "probe",
    "transcribe_file",
]


def transcribe_file(
    path,
    engine: str = DEFAULT_ENGINE,
    model: str | None = None,
    progress: ProgressCallback | None = None,
    models_dir=None,
) -> Transcript:
    """Probe, normalise and transcribe one recording; raises MediaError for what is not one."""
    info = probe(path)
    with tempfile.TemporaryDirectory(prefix="dit-") as scratch:
        audio = Path(scratch) / "audio.wav"
        normalise(path, audio)
        recogniser = load_engine(engine, model, models_dir=None if models_dir is None else Path(models_dir))
        transcript = recogniser.transcribe(audio, progress)
    transcript.duration = info.duration
    return transcript
