"""A long recording read a block at a time, so that memory follows the block, not the recording.

A 50-minute session is 48 million samples: 192 MB as float32, and several times that while voice
activity detection, a mixdown or a mel spectrum works on it whole (2.9 GB at the peak, measured). So
recognition and diarisation read the 16 kHz WAV that `media.normalise` (or `decode_channels`) wrote ten
minutes at a time, each block cut at the quietest moment shortly before its ten-minute mark: in a pause,
so that no word and no turn is split, and on the 20 ms grid that diarisation's frames use, so that what
each block yields lines up when joined. A recording shorter than a block is one block, read whole, and
gives exactly what the whole-file path gave.
"""

from __future__ import annotations

import functools
import itertools
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from transcription.media import SAMPLE_RATE

# About ten minutes a block: a few seconds of work each, and tens of megabytes (five minutes measured no more
# than 25 MB lower: the libraries and models, some 1.1 GB, are most of a worker's memory).
BLOCK_S = 600.0
# Each cut is at the quietest QUIET_S of the SEARCH_S before its mark.
SEARCH_S = 20.0
QUIET_S = 0.2
# Cuts fall on this grid (diarisation's frame, `TurnOptions.frame_s`).
GRID = int(0.02 * SAMPLE_RATE)


@dataclass(frozen=True)
class Block:
    """Samples `start` to `start + length` of the recording, as float32 (channels, samples)."""

    start: int
    samples: np.ndarray

    @property
    def offset(self) -> float:
        """Where the block starts in the recording, in seconds."""
        return self.start / SAMPLE_RATE

    @property
    def mono(self) -> np.ndarray:
        return mixdown(self.samples)

    def square_sum(self) -> float:
        """The sum of the mono mix's squares, in float64: blocks' sums add up to the recording's."""
        mono = self.mono
        return float(np.dot(mono.astype(np.float64), mono))


def mixdown(samples: np.ndarray) -> np.ndarray:
    """(channels, samples) as mono."""
    return samples[0] if samples.shape[0] == 1 else samples.mean(axis=0, dtype=np.float32)


class AudioSource(Protocol):
    """A recording read by blocks: a `WavFile`, or `Samples` already in memory."""

    channels: int
    frames: int

    @property
    def duration(self) -> float: ...

    def blocks(self) -> Iterator[Block]: ...

    def mean_square(self) -> float: ...


class Samples:
    """Samples in memory, (channels, samples) or mono, as one block: the array functions' way into the
    block-wise ones, giving what the whole-array code gave."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
        self.channels, self.frames = self.samples.shape

    @property
    def duration(self) -> float:
        return self.frames / SAMPLE_RATE

    def blocks(self) -> Iterator[Block]:
        yield Block(0, self.samples)

    def mean_square(self) -> float:
        return Block(0, self.samples).square_sum() / self.frames if self.frames else 0.0


class WavFile:
    """A 16 kHz 16-bit PCM WAV file read by sample range, or by blocks of about `block_s` seconds;
    nothing is held but what was last read."""

    def __init__(self, path: str | Path, block_s: float = BLOCK_S) -> None:
        self.block_s = block_s
        self._wav = wave.open(str(path), "rb")
        if self._wav.getframerate() != SAMPLE_RATE or self._wav.getsampwidth() != 2:
            self._wav.close()
            raise ValueError(f"{Path(path).name} is not 16 kHz 16-bit PCM.")
        self.channels = self._wav.getnchannels()
        self.frames = self._wav.getnframes()

    def __enter__(self) -> WavFile:
        return self

    def __exit__(self, *exc) -> None:
        self._wav.close()

    @property
    def duration(self) -> float:
        return self.frames / SAMPLE_RATE

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples `start` to `end` (clipped to the file) as float32 in [-1, 1), shape (channels, samples)."""
        start, end = max(0, start), min(end, self.frames)
        if end <= start:
            return np.zeros((self.channels, 0), np.float32)
        self._wav.setpos(start)
        pcm = np.frombuffer(self._wav.readframes(end - start), "<i2").reshape(-1, self.channels)
        samples = np.empty((self.channels, len(pcm)), np.float32)
        np.multiply(pcm.T, 1 / 32768, out=samples, dtype=np.float32)
        return samples

    @functools.cached_property
    def cuts(self) -> list[int]:
        """Where blocks start after the first: near every `block_s` mark, at its quietest moment. Found once:
        diarisation reads the blocks three times (regions, embeddings, voice prints)."""
        block = int(self.block_s * SAMPLE_RATE)
        search, quiet = int(SEARCH_S * SAMPLE_RATE), int(QUIET_S * SAMPLE_RATE)
        cuts = []
        for mark in range(block, self.frames - search, block):
            low = max(mark - search, cuts[-1] + GRID if cuts else GRID)
            mono = mixdown(self.read(low, mark))
            steps = len(mono) // GRID
            if steps * GRID < quiet:
                continue
            energy = np.square(mono[: steps * GRID], dtype=np.float64).reshape(steps, GRID).sum(axis=1)
            width = quiet // GRID
            # The quietest stretch of `width` grid steps; the cut is at its middle, on the grid.
            sums = np.convolve(energy, np.ones(width), mode="valid")
            cuts.append(low + (int(np.argmin(sums)) + width // 2) * GRID)
        return cuts

    def blocks(self) -> Iterator[Block]:
        """The recording block by block (one block when it is shorter than `block_s` and a search)."""
        for start, end in itertools.pairwise([0, *self.cuts, self.frames]):
            yield Block(start, self.read(start, end))

    def mean_square(self) -> float:
        """The mean square of the mono mix over the whole recording, read block by block (once: both the
        window embeddings and the voice prints take their volume gain from it)."""
        return self._mean_square

    @functools.cached_property
    def _mean_square(self) -> float:
        total = sum(block.square_sum() for block in self.blocks())
        return total / self.frames if self.frames else 0.0
