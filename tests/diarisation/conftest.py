"""Fixtures for the diarisation tests: scripted two-voice dialogues made with espeak-ng (mono,
and stereo with one voice per channel), the bundled speaker encoder and the bundled tiny.en
Whisper model. Each is made once per session and shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechfixtures.dialogue import SCRIPT, Line, mono_dialogue, stereo_dialogue

# Quick turn-taking: 0.15 s between lines, so that Whisper's segments run across changes of
# speaker and a change often falls inside a stretch of speech the VAD does not break.
GAP = 0.15


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory) -> tuple[Path, list[Line]]:
    path = tmp_path_factory.mktemp("dialogue") / "dialogue.wav"
    return path, mono_dialogue(path, SCRIPT, gap=GAP)


@pytest.fixture(scope="session")
def stereo(tmp_path_factory) -> tuple[Path, list[Line]]:
    path = tmp_path_factory.mktemp("stereo") / "stereo.m4a"
    return path, stereo_dialogue(path, SCRIPT, gap=GAP)


@pytest.fixture(scope="session")
def encoder():
    from transcription.diarize import load_encoder

    # One thread: the test machines are small and shared (see ResemblyzerEncoder).
    return load_encoder(threads=1)


@pytest.fixture(scope="session")
def engine():
    from transcription.engines import load_engine

    return load_engine("faster-whisper", "tiny.en", device="cpu")


@pytest.fixture(scope="session")
def transcript(engine, dialogue):
    return engine.transcribe(dialogue[0])
