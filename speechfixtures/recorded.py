"""People's speech with known text, from package-registry distributions fetched with pip:
whisper.cpp's JFK sample inside `pywhispercpp`, LibriVox clips with their transcripts inside
`pocketsphinx`, and a real two-person telephone conversation with its reference speaker turns inside
`pyannote.audio`'s wheel. What is fetched is cached under `.cache/test-media/` in the repository, so
only the first run needs the network."""

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
        (sdist,) = Path(scratch).glob(f"{name}-{version}.tar.gz")
        prefix = f"{name}-{version}/{member_prefix}"
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.startswith(prefix)]
            for member in members:
                member.name = member.name.removeprefix(f"{name}-{version}/")
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


def conversation() -> tuple[Path, list[tuple[float, float, str]]]:
    """30 s of two women on the telephone (16 kHz mono WAV), with turns of under a second and some
    overlap, and its reference speaker turns (start, end, speaker) from the RTTM file beside it:
    pyannote.audio's sample, from its MIT-licensed wheel."""
    folder = _cached("conversation", CONVERSATION_WHEEL, _extract_wheel)
    turns = []
    for line in (folder / "sample.rttm").read_text().splitlines():
        fields = line.split()
        start, duration = float(fields[3]), float(fields[4])
        turns.append((start, round(start + duration, 3), fields[7]))
    return folder / "sample.wav", turns
