"""16 kHz 16-bit WAV files in and out, as float32 samples in [-1, 1)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), np.int16).astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16 kHz 16-bit WAV of `samples`: shape (samples,) for mono, (channels, samples) otherwise."""
    samples = np.atleast_2d(samples)
    pcm = np.clip(np.round(samples.T * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return Path(path)


def seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()
