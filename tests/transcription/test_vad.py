"""Silero VAD run a batch at a time (transcription/vad.py) gives what faster-whisper's own run gives, on
real speech: the same probabilities and, under each set of rules the project uses, the same regions."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

from transcription import vad
from transcription.media import load_audio

RULES = [
    VadOptions(),
    # Recognition's (coverage.speech_regions): regions split before Whisper's window.
    VadOptions(min_silence_duration_ms=300, max_speech_duration_s=28.0),
    # Diarisation's defaults (diarize.options.SpeechRegionOptions) and a stricter one.
    VadOptions(min_silence_duration_ms=150, speech_pad_ms=50, min_speech_duration_ms=100),
    VadOptions(threshold=0.7, min_silence_duration_ms=100, max_speech_duration_s=3.0, speech_pad_ms=0),
]


@pytest.fixture(scope="module")
def speech(book_reading, dialogue) -> np.ndarray:
    """Most of a minute of read and synthetic speech with pauses, at a length that is not a whole number
    of windows, so that the last batch and the padded window are both partial."""
    joined = np.concatenate([load_audio(book_reading[0]), np.zeros(8_000, np.float32), load_audio(dialogue[0])])
    return joined[: len(joined) - len(joined) % vad.WINDOW - 100]


def test_the_probabilities_are_the_librarys_to_the_bit(speech):
    assert len(speech) > vad.WINDOWS * vad.WINDOW, "the audio must span more than one batch"
    padded = np.pad(speech, (0, vad.WINDOW - len(speech) % vad.WINDOW))
    mine = vad.speech_probabilities(speech)
    np.testing.assert_array_equal(mine, get_vad_model()(padded).reshape(-1))
    assert 0.3 < float(np.mean(mine > 0.5)) < 0.95, "speech with pauses: some windows each way"


@pytest.mark.parametrize("rules", RULES, ids=["defaults", "recognition", "diarisation", "strict"])
def test_the_regions_are_the_librarys_under_each_set_of_rules(speech, rules):
    mine = vad.speech_timestamps(speech, rules)
    assert mine == get_speech_timestamps(speech, rules)
    assert mine


def test_silence_and_nothing_give_no_speech():
    assert vad.speech_timestamps(np.zeros(16_000 * 5, np.float32)) == []
    assert vad.speech_timestamps(np.zeros(0, np.float32)) == []
