"""Turns of a whole recording, by whichever way suits it: by channel where there are two
channels with one voice on each, else by voice on their mix.

The recording is read block by block (`transcription.blocks`): speech regions and frame levels are
found in each block and joined, the choice and the clustering are made on the whole recording, and
the speaker embeddings are taken block by block again, so that memory follows the block."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from transcription.blocks import BLOCK_S, AudioSource, Samples, WavFile
from transcription.diarize.channels import channel_turns, check_levels
from transcription.diarize.encoders import SpeakerEncoder
from transcription.diarize.options import DiarisationOptions
from transcription.diarize.speech import frame_levels, speech_regions
from transcription.diarize.turns import Diarisation
from transcription.diarize.voices import voice_turns
from transcription.media import decode_channels


def diarise(channels: np.ndarray, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
            use_channels: bool = True, options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of a recording given as (channels, samples) at 16 kHz (what `load_channels` gives)."""
    return diarise_source(Samples(channels), n_speakers, encoder, use_channels, options)


def diarise_source(source: AudioSource, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                   use_channels: bool = True, options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of a recording read block by block (a `WavFile`, or `Samples` in memory)."""
    by_channel = use_channels and source.channels == 2
    regions: list[tuple[float, float]] = []
    levels = []
    for block in source.blocks():
        regions += [(block.offset + start, block.offset + end)
                    for start, end in speech_regions(block.mono, options.speech)]
        if by_channel:
            levels.append(frame_levels(block.samples, options.turns))
    if by_channel:
        levels = np.concatenate(levels, axis=1)
        if check_levels(levels, regions, options).one_voice_each:
            return channel_turns(levels, source.duration, regions, options)
    return voice_turns(source, regions, n_speakers, encoder, options)


def diarise_file(path, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                 use_channels: bool = True, options: DiarisationOptions = DiarisationOptions(),
                 block_s: float = BLOCK_S, scratch: Path | None = None) -> Diarisation:
    """Turns of any recording ffmpeg can read, decoded to a WAV in `scratch` (the system's temporary
    directory if None) and read from there block by block."""
    with tempfile.TemporaryDirectory(prefix="dit-speakers-", dir=scratch) as folder:
        wav = Path(folder) / "channels.wav"
        decode_channels(path, wav)
        with WavFile(wav, block_s) as source:
            return diarise_source(source, n_speakers, encoder, use_channels, options)
