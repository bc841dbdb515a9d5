"""Telling speakers apart by channel: a stereo recording that carries one voice on each channel (a
call recorded per side, two lapel microphones on a two-channel recorder) is split by which
channel is the louder, frame by frame. No model is needed, and the channels say it better than
any voice model could."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transcription.diarize.options import ChannelOptions, DiarisationOptions
from transcription.diarize.speech import frame_levels, speech_regions
from transcription.diarize.turns import Diarisation, fill, label_turns, smooth, speech_mask, speech_seconds
from transcription.media import SAMPLE_RATE


@dataclass(frozen=True)
class ChannelCheck:
    """How the channels share the speech: the fraction of speech frames in which one channel is
    louder by `options.dominance_db`, and each channel's share of those."""

    dominated: float
    shares: tuple[float, ...]
    options: ChannelOptions = ChannelOptions()

    @property
    def one_voice_each(self) -> bool:
        return (len(self.shares) == 2 and self.dominated >= self.options.min_dominated_fraction
                and min(self.shares) >= self.options.min_channel_share)


def check_channels(channels: np.ndarray, regions: Sequence[tuple[float, float]],
                   options: DiarisationOptions = DiarisationOptions()) -> ChannelCheck:
    return check_levels(frame_levels(channels, options.turns), regions, options)


def check_levels(levels: np.ndarray, regions: Sequence[tuple[float, float]],
                 options: DiarisationOptions = DiarisationOptions()) -> ChannelCheck:
    """`check_channels` from the channels' frame levels (`speech.frame_levels`, (channels, frames))."""
    if levels.shape[0] < 2:
        return ChannelCheck(0.0, (1.0,), options.channels)
    speech = speech_mask(regions, levels.shape[1], options.turns)[: levels.shape[1]]
    # Frames loud enough to be speech rather than a pause within it.
    loud = speech & (levels.max(axis=0) > np.percentile(levels.max(axis=0)[speech], 20) if speech.any() else speech)
    if not loud.any():
        return ChannelCheck(0.0, tuple(0.0 for _ in range(levels.shape[0])), options.channels)
    ordered = np.sort(levels[:, loud], axis=0)
    margin = ordered[-1] - ordered[-2]
    dominant = margin >= options.channels.dominance_db
    loudest = np.argmax(levels[:, loud], axis=0)[dominant]
    shares = tuple(float(np.mean(loudest == c)) if len(loudest) else 0.0 for c in range(levels.shape[0]))
    return ChannelCheck(float(np.mean(dominant)), shares, options.channels)


def diarise_channels(channels: np.ndarray, regions: Sequence[tuple[float, float]] | None = None,
                     options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of a recording with one voice per channel: in each frame of speech, the louder
    channel is the one speaking. Speaker numbers follow the channels (0 is the first, the left)."""
    regions = speech_regions(channels.mean(axis=0), options.speech) if regions is None else list(regions)
    return channel_turns(frame_levels(channels, options.turns), channels.shape[1] / SAMPLE_RATE, regions, options)


def channel_turns(levels: np.ndarray, duration: float, regions: Sequence[tuple[float, float]],
                  options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """`diarise_channels` from the channels' frame levels, (channels, frames)."""
    frames = levels.shape[1]
    speech = speech_mask(regions, frames, options.turns)[:frames]
    # Levels smoothed over 100 ms, so that one quiet syllable does not hand the turn over.
    kernel = np.ones(5) / 5
    smoothed = np.stack([np.convolve(level, kernel, mode="same") for level in levels])
    ordered = np.sort(smoothed, axis=0)
    margin = ordered[-1] - ordered[-2]
    loudest = np.argmax(smoothed, axis=0)
    floor = np.percentile(smoothed.max(axis=0)[speech], 10) if speech.any() else 0.0
    # Pauses inside speech (both channels quiet) take their neighbours' speaker.
    quiet = speech & (smoothed.max(axis=0) < floor)
    labels = np.where(speech, loudest, -1)
    labels = fill(labels, quiet)
    labels = smooth(labels, options.turns)
    # 3 dB of margin is an even call; 12 dB is beyond doubt.
    confidence = np.clip(0.5 + (margin - 3.0) / 18.0, 0.5, 1.0)
    turns = label_turns(labels, confidence, order_by_first=False, options=options.turns)
    return Diarisation(turns, duration, "channels", levels.shape[0], speech_seconds(turns))
