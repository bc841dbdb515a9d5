"""Real speech with known text, for tests and benchmarks; nothing here is committed.

Human speech comes from package-registry source distributions, fetched with pip: whisper.cpp's
JFK sample inside `pywhispercpp`, and LibriVox clips with their transcripts inside
`pocketsphinx`. Dialogue between different voices is synthesised with espeak-ng. What is fetched
is cached under `.cache/test-media/` in the repository, so only the first run needs the network.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tarfile
import tempfile
import wave
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-media"

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)
# A therapy-like exchange for espeak_dialogue: a therapist in two accents and a client.
DIALOGUE = [
    ("en-gb", "How have you been feeling since our last session?"),
    ("en-us", "Honestly, quite low. I keep going over the argument with my sister."),
    ("en-gb", "What do you think was happening between the two of you?"),
    ("en-us", "I felt that she was dismissing me again, the way my mother always did."),
    ("en+f3", "So the feeling of being dismissed is a familiar one."),
    ("en-us", "Yes. It makes me angry, and then I feel guilty about being angry."),
]

JFK_SDIST = ("pywhispercpp", "1.5.1", "whisper.cpp/samples/jfk.wav")
LIBRIVOX_SDIST = ("pocketsphinx", "5.1.1", "test/data/librivox/")


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


def jfk_wav() -> Path:
    """11 s of John F. Kennedy, 16 kHz mono WAV; its words are JFK_TEXT."""
    path = CACHE / "jfk.wav"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        _extract(*JFK_SDIST, path)
    return path


def librivox() -> list[tuple[Path, str]]:
    """Five LibriVox clips (Sense and Sensibility, 3 to 7 s each) and what is said in each."""
    folder = CACHE / "librivox"
    if not folder.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        _extract(*LIBRIVOX_SDIST, folder)
    return [(wav, wav.with_suffix(".txt").read_text(encoding="utf-8").strip()) for wav in sorted(folder.glob("*.wav"))]


def espeak_dialogue(path: Path, lines: list[tuple[str, str]], gap: float = 0.7) -> Path:
    """Speak each (espeak-ng voice, text) line in turn, with `gap` seconds of silence between, into `path`."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        parts = []
        for number, (voice, text) in enumerate(lines):
            part = Path(scratch) / f"{number:03d}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(part), text], check=True)
            # Every part at one rate and with its pause after it, so that sox can simply join them.
            padded = Path(scratch) / f"{number:03d}-padded.wav"
            subprocess.run(["sox", str(part), "-r", "16000", "-c", "1", str(padded), "pad", "0", str(gap)], check=True)
            parts.append(str(padded))
        subprocess.run(["sox", *parts, str(path)], check=True)
    return path


def varied_speech(path: Path, min_seconds: float, pause: float = 1.0) -> tuple[Path, str]:
    """At least `min_seconds` of speech in `path` (16 kHz mono WAV), and what is said in it.

    The LibriVox clips, JFK and the dialogue follow one another with `pause` seconds between,
    round after round: no 30-second window ever holds the same words twice. (JFK looped would:
    Whisper takes a window that repeats itself for a decoding gone round in circles, decodes it
    again at rising temperatures, and so runs several times slower.)
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        dialogue = espeak_dialogue(Path(scratch) / "dialogue.wav", DIALOGUE)
        pieces = [*librivox(), (jfk_wav(), JFK_TEXT), (dialogue, " ".join(text for _, text in DIALOGUE))]
        silence = Path(scratch) / "pause.wav"
        subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(silence), "trim", "0", str(pause)],
                       check=True)
        lengths = []
        for piece, _ in pieces:
            with wave.open(str(piece)) as audio:
                lengths.append(audio.getnframes() / audio.getframerate() + pause)
        rounds = math.ceil(min_seconds / sum(lengths))
        files = [str(f) for _ in range(rounds) for piece, _ in pieces for f in (piece, silence)]
        subprocess.run(["sox", *files, str(path)], check=True)
    return path, " ".join(text for _ in range(rounds) for _, text in pieces)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate, ignoring case and punctuation."""
    normalise = jiwer.Compose([
        jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ])
    return jiwer.wer(reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise)
