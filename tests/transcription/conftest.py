"""Fixtures for the transcription tests: real speech, real ffmpeg, the real bundled model.

Models are loaded once per session and shared, since loading is most of what a test would cost.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from speechfixtures.espeak import DIALOGUE, espeak_dialogue
from speechfixtures.recorded import jfk_wav, librivox
from transcription.convert import convert_ctranslate2_to_openai
from transcription.engines import bundled_model_dir, load_engine


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-nostdin", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="session")
def jfk() -> Path:
    return jfk_wav()


@pytest.fixture(scope="session")
def book_reading(tmp_path_factory) -> tuple[Path, str]:
    """The LibriVox clips read one after another with a second's pause between, and their text."""
    clips = librivox()
    out = tmp_path_factory.mktemp("librivox") / "reading.wav"
    inputs = [arg for wav, _ in clips for arg in ("-i", str(wav))]
    chain = "".join(f"[{i}:a]apad=pad_dur=1[a{i}];" for i in range(len(clips)))
    joined = "".join(f"[a{i}]" for i in range(len(clips)))
    ffmpeg(*inputs, "-filter_complex", f"{chain}{joined}concat=n={len(clips)}:v=0:a=1", str(out))
    return out, " ".join(text for _, text in clips)


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory) -> tuple[Path, str]:
    path = espeak_dialogue(tmp_path_factory.mktemp("dialogue") / "dialogue.wav", DIALOGUE)
    return path, " ".join(text for _, text in DIALOGUE)


@pytest.fixture(scope="session")
def silence(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("silence") / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "10", str(out))
    return out


@pytest.fixture(scope="session")
def faster_whisper():
    return load_engine("faster-whisper", "tiny.en", device="cpu")


@pytest.fixture(scope="session")
def openai_checkpoint(tmp_path_factory) -> Path:
    """The bundled tiny.en converted to an openai-whisper checkpoint, named as `dit models convert` names it."""
    return convert_ctranslate2_to_openai(bundled_model_dir(), tmp_path_factory.mktemp("models") / "tiny.en.pt")


@pytest.fixture(scope="session")
def openai_whisper(openai_checkpoint):
    return load_engine("openai-whisper", str(openai_checkpoint), device="cpu")
