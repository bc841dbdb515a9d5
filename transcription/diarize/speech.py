"""Where there is speech in a recording, and how loud each frame of it is."""

from __future__ import annotations

import numpy as np

from transcription.diarize.options import SpeechRegionOptions, TurnOptions
from transcription.media import SAMPLE_RATE


def speech_regions(audio: np.ndarray, options: SpeechRegionOptions = SpeechRegionOptions()
                   ) -> list[tuple[float, float]]:
    """Where there is speech, as (start, end) seconds, by the Silero VAD that faster-whisper ships
    (an ONNX model run by onnxruntime: no torch here; transcription/vad.py)."""
    from faster_whisper.vad import VadOptions

    from transcription.vad import speech_seconds

    if len(audio) == 0:
        return []
    vad = VadOptions(min_silence_duration_ms=int(options.min_silence_s * 1000), speech_pad_ms=int(options.pad_s * 1000),
                     min_speech_duration_ms=int(options.min_speech_s * 1000))
    return speech_seconds(np.ascontiguousarray(audio, dtype=np.float32), vad)


def frame_levels(channels: np.ndarray, options: TurnOptions = TurnOptions()) -> np.ndarray:
    """(channels, frames) level in dBFS of each frame of the grid."""
    hop = int(options.frame_s * SAMPLE_RATE)
    frames = channels.shape[1] // hop
    power = np.mean(np.square(channels[:, : frames * hop].reshape(channels.shape[0], frames, hop),
                              dtype=np.float64), axis=2)
    return 10 * np.log10(np.maximum(power, 1e-12))
