"""Resemblyzer's front end, computed with numpy and scipy exactly as Resemblyzer computes it
through librosa, so that neither librosa nor webrtcvad (Resemblyzer's own imports) is needed.

The numbers below are Resemblyzer's hyperparameters (resemblyzer/hparams.py), fixed by the
trained encoder rather than tuned: 25 ms windows every 10 ms, 40 mel bands, audio raised to
-30 dBFS first.
"""

from __future__ import annotations

import math

import numpy as np

from transcription.media import SAMPLE_RATE

MEL_WINDOW = 400
MEL_HOP = 160
MEL_BANDS = 40
NORM_TARGET_DBFS = -30.0


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and area norm."""

    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        mel = 3.0 * f / 200.0
        log_region = f >= 1000.0
        return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        f = 200.0 * m / 3.0
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + MEL_WINDOW // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), MEL_BANDS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(audio: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
    """Resemblyzer's features: (frames, 40) mel power spectrum (not log), frame i centred on
    sample 160 i, as librosa.feature.melspectrogram computes it (Hann window, zero padding);
    frames `first` to `last` (exclusive; None: to the end) only, computed from just that stretch."""
    from scipy import fft

    audio = np.asarray(audio, dtype=np.float32)
    total = 1 + len(audio) // MEL_HOP
    last = total if last is None else min(last, total)
    if last <= first:
        return np.zeros((0, MEL_BANDS), dtype=np.float32)
    # Samples under frames first..last-1, zero-padded where they run off either end of the audio.
    begin, end = first * MEL_HOP - MEL_WINDOW // 2, (last - 1) * MEL_HOP + MEL_WINDOW // 2
    stretch = audio[max(begin, 0) : min(end, len(audio))]
    stretch = np.pad(stretch, (max(0, -begin), max(0, end - len(audio))))
    # A periodic Hann window, as scipy.signal.get_window("hann", 400) gives (without importing
    # scipy.signal, which takes a second).
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_WINDOW) / MEL_WINDOW)).astype(np.float32)
    filters = _mel_filters()
    frames = last - first
    out = np.empty((frames, MEL_BANDS), dtype=np.float32)
    strided = np.lib.stride_tricks.sliding_window_view(stretch, MEL_WINDOW)[::MEL_HOP]
    chunk = 8192  # frames at a time: bounded memory however long the stretch
    for at in range(0, frames, chunk):
        spectrum = fft.rfft(strided[at : at + chunk] * window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        out[at : at + chunk] = power @ filters.T
    return out


def volume_gain(audio: np.ndarray) -> float:
    """The gain of Resemblyzer's normalize_volume(wav, -30, increase_only=True)."""
    return gain_for(float(np.mean(np.square(audio, dtype=np.float64))) if len(audio) else 0.0)


def gain_for(mean_square: float) -> float:
    """`volume_gain` of audio whose mean square is `mean_square` (a recording read block by block)."""
    rms = math.sqrt(mean_square)
    if rms <= 0:
        return 1.0
    return max(1.0, 10 ** ((NORM_TARGET_DBFS - 20 * math.log10(rms)) / 20))
