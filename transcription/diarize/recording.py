"""Turns of a whole recording, by whichever way suits it: by channel where there are two
channels with one voice on each, else by voice on their mix."""

from __future__ import annotations

import numpy as np

from transcription.diarize.channels import check_channels, diarise_channels
from transcription.diarize.encoders import SpeakerEncoder
from transcription.diarize.options import DiarisationOptions
from transcription.diarize.speech import speech_regions
from transcription.diarize.turns import Diarisation
from transcription.diarize.voices import diarise_voices
from transcription.media import load_channels


def diarise(channels: np.ndarray, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
            use_channels: bool = True, options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of a recording given as (channels, samples) at 16 kHz (what `load_channels` gives)."""
    channels = np.atleast_2d(channels)
    mono = channels.mean(axis=0) if channels.shape[0] > 1 else channels[0]
    regions = speech_regions(mono, options.speech)
    if use_channels and channels.shape[0] == 2 and check_channels(channels, regions, options).one_voice_each:
        return diarise_channels(channels, regions, options)
    return diarise_voices(mono, n_speakers, encoder, regions, options)


def diarise_file(path, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                 use_channels: bool = True, options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of any recording ffmpeg can read."""
    return diarise(load_channels(path), n_speakers, encoder, use_channels, options)
