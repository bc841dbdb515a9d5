"""A recording read block by block: what the blocks hold, where they are cut, and recognition by blocks
against the whole recording at once."""

from __future__ import annotations

import numpy as np
import pytest

from speechfixtures.scoring import wer
from speechfixtures.wavfile import read_wav, write_wav
from transcription.blocks import GRID, QUIET_S, Samples, WavFile
from transcription.engines import DecodeOptions, load_engine
from transcription.media import SAMPLE_RATE


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)


def test_the_blocks_hold_the_whole_recording_once_in_order(tmp_path):
    stereo = np.stack([noise(95, 1), noise(95, 2)])
    path = write_wav(tmp_path / "stereo.wav", stereo)
    expected = np.round(stereo * 32767) / 32768  # as 16-bit samples hold them
    with WavFile(path, block_s=30) as wav:
        assert (wav.channels, wav.frames) == (2, stereo.shape[1])
        blocks = list(wav.blocks())
        assert len(blocks) == 3
        assert [block.start for block in blocks] == sorted({block.start for block in blocks})
        joined = np.concatenate([block.samples for block in blocks], axis=1)
        np.testing.assert_allclose(joined, expected, atol=1e-6)
        np.testing.assert_allclose(wav.read(1000, 2000), expected[:, 1000:2000], atol=1e-6)
        assert wav.read(stereo.shape[1] - 10, stereo.shape[1] + 500).shape == (2, 10)
        assert wav.mean_square() == pytest.approx(np.mean(np.square(expected.mean(axis=0), dtype=np.float64)))


def test_each_cut_is_in_the_quietest_moment_before_its_mark_on_the_grid(tmp_path):
    audio = noise(120)
    pauses = [(22.0, 22.6), (41.3, 41.9), (80.5, 81.0)]  # one pause in the search before each 30 s mark
    for start, end in pauses:
        audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] = 0
    path = write_wav(tmp_path / "pauses.wav", audio)
    with WavFile(path, block_s=30) as wav:
        cuts = wav.cuts
    assert len(cuts) == 3
    for cut, (start, end) in zip(cuts, pauses, strict=True):
        assert cut % GRID == 0
        assert start + QUIET_S / 2 - 0.02 <= cut / SAMPLE_RATE <= end - QUIET_S / 2 + 0.02


def test_a_recording_shorter_than_a_block_is_one_block_and_samples_are_one_block(tmp_path):
    audio = noise(12)
    with WavFile(write_wav(tmp_path / "short.wav", audio)) as wav:
        (block,) = wav.blocks()
    assert block.start == 0 and block.samples.shape == (1, len(audio))
    (block,) = Samples(audio).blocks()
    assert block.mono is not None and np.array_equal(block.mono, audio)


def test_a_file_that_is_not_16_khz_pcm_is_refused(tmp_path):
    import wave

    path = tmp_path / "8k.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000), out.writeframes(b"\0\0" * 800)
    with pytest.raises(ValueError, match="16 kHz"):
        WavFile(path)


@pytest.mark.slow
def test_recognition_by_blocks_finds_the_words_of_the_whole_recording(faster_whisper, dialogue):
    """A dialogue in blocks of 15 s, each cut in a pause between words: the words of the whole recording."""
    path, _ = dialogue
    whole = faster_whisper.transcribe(path)
    blocked = load_engine("faster-whisper", "tiny.en", device="cpu", options=DecodeOptions(block_s=15)).transcribe(path)
    assert blocked.duration == pytest.approx(whole.duration)
    text = " ".join(segment.text for segment in blocked.segments)
    assert wer(" ".join(segment.text for segment in whole.segments), text) <= 0.05
    starts = [segment.start for segment in blocked.segments]
    assert starts == sorted(starts)
    assert blocked.segments[-1].end == pytest.approx(whole.segments[-1].end, abs=0.5)
    assert len(read_wav(path)) / SAMPLE_RATE == pytest.approx(blocked.duration, abs=0.01)
