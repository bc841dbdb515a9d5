"""Lines spoken by espeak-ng voices, resampled by sox to 16 kHz mono 16-bit WAV."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from speechfixtures.wavfile import SAMPLE_RATE, read_wav

# A therapy-like exchange for espeak_dialogue: a therapist in two accents and a client.
DIALOGUE = [
    ("en-gb", "How have you been feeling since our last session?"),
    ("en-us", "Honestly, quite low. I keep going over the argument with my sister."),
    ("en-gb", "What do you think was happening between the two of you?"),
    ("en-us", "I felt that she was dismissing me again, the way my mother always did."),
    ("en+f3", "So the feeling of being dismissed is a familiar one."),
    ("en-us", "Yes. It makes me angry, and then I feel guilty about being angry."),
]


def speak(voice: str, text: str, path: Path, *effects: str) -> Path:
    """`text` in espeak-ng's `voice` as 16 kHz mono WAV at `path`, through sox's `effects`
    (e.g. "pad", "0", "0.7")."""
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "line.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        # No dither (-D): sox dithers with a fresh random seed each run, and a fixture should be the same
        # audio every time, so that a transcript that changes is the code's doing.
        subprocess.run(["sox", "-D", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path), *effects],
                       check=True)
    return Path(path)


def spoken(voice: str, text: str) -> np.ndarray:
    """`text` in espeak-ng's `voice` as samples, trimmed of the silence espeak puts around it: a
    line's turn is where it is audible."""
    with tempfile.TemporaryDirectory() as scratch:
        samples = read_wav(speak(voice, text, Path(scratch) / "line16.wav"))
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def espeak_dialogue(path: Path, lines: list[tuple[str, str]], gap: float = 0.7) -> Path:
    """Speak each (espeak-ng voice, text) line in turn, with `gap` seconds of silence between, into `path`."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        # Every part at one rate and with its pause after it, so that sox can simply join them.
        parts = [str(speak(voice, text, Path(scratch) / f"{number:03d}.wav", "pad", "0", str(gap)))
                 for number, (voice, text) in enumerate(lines)]
        subprocess.run(["sox", "-D", *parts, str(path)], check=True)
    return path
