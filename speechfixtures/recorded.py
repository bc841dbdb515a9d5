"""People's speech with known text, from package-registry distributions fetched with pip:
whisper.cpp's JFK sample inside `pywhispercpp`, LibriVox clips with their transcripts inside
`pocketsphinx`, a real two-person telephone conversation with its reference speaker turns inside
`pyannote.audio`'s wheel, and two-person excerpts of real meetings with theirs in its sdist. What is
fetched is cached under `.cache/test-media/` in the repository, so only the first run needs the network."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-media"

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)

JFK_SDIST = ("pywhispercpp", "1.5.1", "whisper.cpp/samples/jfk.wav")
LIBRIVOX_SDIST = ("pocketsphinx", "5.1.1", "test/data/librivox/")
CONVERSATION_WHEEL = ("pyannote.audio", "3.3.2", "pyannote/audio/sample/")
# Its test data, in the sdist only: 30 s excerpts of AMI meetings (CC BY 4.0) with reference turns.
MEETINGS_SDIST = ("pyannote.audio", "4.0.7", "tests/data/")
# The excerpts in which two people talk (the rest have one, three or four).
TWO_PERSON_MEETINGS = ("dev00", "dev01")


def _extract(name: str, version: str, member_prefix: str, into: Path) -> None:
    """Fetch the sdist `name==version` and unpack the members under `member_prefix` into `into`."""
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        # --no-binary for this package only: for ":all:", pip would build the sdist's build
        # requirements (cmake among them) from source just to read its metadata.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-binary", name, f"{name}=={version}", "-d", scratch],
            check=True,
        )
        # Newer sdists spell the name normalised (pyannote_audio-4.0.7), older ones as given.
        (sdist,) = Path(scratch).glob("*.tar.gz")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(sdist) as archive:
            top = archive.getmembers()[0].name.split("/")[0]
            prefix = f"{top}/{member_prefix}"
            members = [m for m in archive.getmembers() if m.isfile() and m.name.startswith(prefix)]
            for member in members:
                member.name = member.name.removeprefix(f"{top}/")
            archive.extractall(unpacked, members=members, filter="data")
        # Moved into place whole, so that an interrupted fetch is simply done again next time.
        try:
            os.replace(unpacked / member_prefix, into)
        except OSError:
            if not into.exists():
                raise  # rather than another test process having put it there first


def _extract_wheel(name: str, version: str, member_prefix: str, into: Path) -> None:
    """As `_extract`, from the package's wheel (pure Python, so one wheel for every platform)."""
    import zipfile

    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary", ":all:", f"{name}=={version}", "-d", scratch],
            check=True,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked, members=[m for m in archive.namelist() if m.startswith(member_prefix)])
        try:
            os.replace(unpacked / member_prefix, into)
        except OSError:
            if not into.exists():
                raise


def _cached(name: str, distribution: tuple[str, str, str], extract=_extract) -> Path:
    path = CACHE / name
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        extract(*distribution, path)
    return path


def jfk_wav() -> Path:
    """11 s of John F. Kennedy, 16 kHz mono WAV; its words are JFK_TEXT."""
    return _cached("jfk.wav", JFK_SDIST)


def librivox() -> list[tuple[Path, str]]:
    """Five LibriVox clips (Sense and Sensibility, 3 to 7 s each) and what is said in each."""
    folder = _cached("librivox", LIBRIVOX_SDIST)
    return [(wav, wav.with_suffix(".txt").read_text(encoding="utf-8").strip()) for wav in sorted(folder.glob("*.wav"))]


def _rttm(text: str, recording: str | None = None) -> list[tuple[float, float, str]]:
    """Reference turns (start, end, speaker) from RTTM lines (of one recording, if named)."""
    turns = []
    for line in text.splitlines():
        fields = line.split()
        if fields and (recording is None or fields[1] == recording):
            start, duration = float(fields[3]), float(fields[4])
            turns.append((start, round(start + duration, 3), fields[7]))
    return sorted(turns)


def meetings() -> list[tuple[Path, list[tuple[float, float, str]]]]:
    """Two 30 s excerpts of a real meeting (AMI) in which two men talk, turns of one to twelve seconds
    overlapping a little, as 16 kHz mono 16-bit WAV (the sdist's are 32-bit float: converted as the worker
    converts an upload), with their reference turns. The references count a speaker's pauses inside a
    turn as speech (dev00's 3.8-5.6 s is silence, -55 to -70 dB, inside a turn)."""
    from transcription.media import normalise

    folder = _cached("meetings", MEETINGS_SDIST)
    found = []
    for name in TWO_PERSON_MEETINGS:
        wav = folder / f"{name}.s16.wav"
        if not wav.exists():
            normalise(folder / f"{name}.wav", wav)
        found.append((wav, _rttm((folder / "debug.development.rttm").read_text(), name)))
    return found


def conversation() -> tuple[Path, list[tuple[float, float, str]]]:
    """30 s of two women on the telephone (16 kHz mono WAV), with turns of under a second and some
    overlap, and its reference speaker turns (start, end, speaker) from the RTTM file beside it:
    pyannote.audio's sample, from its MIT-licensed wheel."""
    folder = _cached("conversation", CONVERSATION_WHEEL, _extract_wheel)
    return folder / "sample.wav", _rttm((folder / "sample.rttm").read_text())
