"""Silero voice activity detection as faster-whisper ships it, in the memory of seconds of audio.

faster-whisper's `get_speech_timestamps` runs the Silero network on 10,000 windows of 32 ms (5.3
minutes) at once: for a ten-minute block that peaks 176 MB above the audio (measured), and recognition
and diarisation each run it, on two threads, at the same time as the decoder's own peak. Here the same
ONNX model (the library's asset, loaded once by the library) runs `WINDOWS` windows at a time, carrying
the network's state from one batch to the next as the library does between its own batches: the
probabilities are the library's to the bit, a little faster, with no peak to speak of. They become
speech regions by Silero's rules as faster-whisper 1.2 applies them (`speech_timestamps`, which gives
the library's regions exactly: tests/transcription/test_vad.py checks both against the library).
"""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_vad_model

from transcription.media import SAMPLE_RATE

# Silero's window, and the samples of the window before it that the network sees with it.
WINDOW = 512
CONTEXT = 64
# Windows run at once: 32 s of audio.
WINDOWS = 1000


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """For each 32 ms window of 16 kHz mono `audio` (the last one padded with silence), the probability
    that it is speech."""
    session = get_vad_model().session
    frames = np.pad(np.asarray(audio, np.float32), (0, WINDOW - len(audio) % WINDOW)).reshape(-1, WINDOW)
    # As the library does (a side effect of how it builds the context): the last window's end is silenced.
    frames[-1, -CONTEXT:] = 0
    state = {"h": np.zeros((1, 1, 128), np.float32), "c": np.zeros((1, 1, 128), np.float32)}
    found = []
    for first in range(0, len(frames), WINDOWS):
        batch = frames[first : first + WINDOWS]
        context = np.zeros((len(batch), CONTEXT), np.float32)
        context[1:] = batch[:-1, -CONTEXT:]
        if first:
            context[0] = frames[first - 1, -CONTEXT:]
        output, state["h"], state["c"] = session.run(None, {"input": np.concatenate([context, batch], axis=1),
                                                            **state})
        found.append(output)
    return np.concatenate(found).reshape(-1) if found else np.zeros(0, np.float32)


def speech_timestamps(audio: np.ndarray, options: VadOptions = VadOptions()) -> list[dict]:
    """Speech in 16 kHz mono `audio` as [{"start": sample, "end": sample}], as
    `faster_whisper.vad.get_speech_timestamps` finds it."""
    return regions(speech_probabilities(audio), len(audio), options)


def speech_seconds(audio: np.ndarray, options: VadOptions = VadOptions()) -> list[tuple[float, float]]:
    """`speech_timestamps` as (start, end) seconds."""
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in speech_timestamps(audio, options)]


def regions(probabilities: np.ndarray, length: int, options: VadOptions = VadOptions()) -> list[dict]:
    """Silero's rules, as faster-whisper 1.2's `get_speech_timestamps` applies them, on probabilities
    already found: speech starts at a window at or above `threshold` and ends after
    `min_silence_duration_ms` below `neg_threshold`; a region about to pass `max_speech_duration_s` ends
    at its last pause of 98 ms or more (else there and then); regions no longer than
    `min_speech_duration_ms` are dropped, and the rest padded by `speech_pad_ms` each side, no further
    than halfway to the next."""
    threshold = options.threshold
    neg_threshold = options.neg_threshold if options.neg_threshold is not None else max(threshold - 0.15, 0.01)
    min_speech = SAMPLE_RATE * options.min_speech_duration_ms / 1000
    pad = SAMPLE_RATE * options.speech_pad_ms / 1000
    max_speech = SAMPLE_RATE * options.max_speech_duration_s - WINDOW - 2 * pad
    min_silence = SAMPLE_RATE * options.min_silence_duration_ms / 1000
    min_silence_at_max_speech = SAMPLE_RATE * 98 / 1000

    speeches: list[dict] = []
    current: dict = {}
    triggered = False
    # Where the current silence began; and, for a region grown too long, its last pause and what followed.
    temp_end = prev_end = next_start = 0
    for i, probability in enumerate(probabilities.tolist()):
        at = WINDOW * i
        if probability >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = at
        if probability >= threshold and not triggered:
            triggered = True
            current["start"] = at
            continue
        if triggered and at - current["start"] > max_speech:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = at
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if probability < neg_threshold and triggered:
            if not temp_end:
                temp_end = at
            if at - temp_end > min_silence_at_max_speech:
                prev_end = temp_end
            if at - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
    if current and length - current["start"] > min_speech:
        current["end"] = length
        speeches.append(current)
    return _padded(speeches, pad, length)


def _padded(speeches: list[dict], pad: float, length: int) -> list[dict]:
    """Each region widened by `pad` samples, or by half the silence to its neighbour where that is less."""
    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad))
        if i == len(speeches) - 1:
            speech["end"] = int(min(length, speech["end"] + pad))
            continue
        silence = speeches[i + 1]["start"] - speech["end"]
        if silence < 2 * pad:
            speech["end"] += int(silence // 2)
            speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
        else:
            speech["end"] = int(min(length, speech["end"] + pad))
            speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
    return speeches
