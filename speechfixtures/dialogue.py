"""Scripted two-voice therapy dialogues synthesised with espeak-ng, with the timeline of who
speaks when, for the diarisation tests and bench/diarize.py.

Each line is spoken by its role's voice, trimmed of the silence espeak puts around it, and
followed by a pause; the reference turn of a line runs from its first to its last audible sample,
as a person marking up the recording would place it.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechfixtures.espeak import spoken
from speechfixtures.wavfile import SAMPLE_RATE, write_wav
from transcription.transcript import Segment, Transcript, Word

THERAPIST, PATIENT = "therapist", "patient"

# Clearly different voices: a man with a British accent and a woman with an American one.
VOICES = {THERAPIST: "en-gb", PATIENT: "en-us+f3"}

# About 70 s: the therapist asks most of the questions and says less.
SCRIPT = [
    (THERAPIST, "Hello. How have you been since we last met?"),
    (PATIENT, ("Not great, to be honest. The week started well, but on Wednesday I had another argument "
               "with my sister, and I have been going over it ever since.")),
    (THERAPIST, "What happened between the two of you?"),
    (PATIENT, ("She cancelled our plans at the last minute again. I told her it was fine, but it was not "
               "fine. I went home and could not sleep.")),
    (THERAPIST, "What did you feel when she cancelled?"),
    (PATIENT, "Angry at first, and then mostly invisible, as if I did not matter to her at all."),
    (THERAPIST, "Is that feeling of not mattering a familiar one?"),
    (PATIENT, ("Yes. It is how I felt growing up. My mother was always busy with my brother, and I learned "
               "to keep quiet and not ask for anything.")),
    (THERAPIST, "So you told your sister it was fine, the way you kept quiet as a child?"),
    (PATIENT, "I suppose I did. I did not want to seem needy, so I pretended that it did not hurt."),
    (THERAPIST, "What do you imagine would happen if you told her it hurt?"),
    (PATIENT, "She would think I was being dramatic, or she would pull away, and then I would be on my own again."),
    (THERAPIST, "How would it feel to tell her that you were hurt?"),
    (PATIENT, "Frightening, but maybe also a relief. I am tired of pretending that everything is fine."),
    (THERAPIST, "Could we think together about what you might say to her this week?"),
]


@dataclass(frozen=True)
class Line:
    role: str
    text: str
    start: float
    end: float


def synthesise(script: list[tuple[str, str]], gap: float = 0.6, lead: float = 0.5,
               voices: dict[str, str] = VOICES) -> tuple[dict[str, np.ndarray], list[Line]]:
    """Each role's track (float32, 16 kHz, all the same length, silent while the other speaks),
    and the timeline of lines."""
    pieces = [(role, spoken(voices[role], text)) for role, text in script]
    pause = int(gap * SAMPLE_RATE)
    total = int(lead * SAMPLE_RATE) + sum(len(p) + pause for _, p in pieces)
    tracks = {role: np.zeros(total, dtype=np.float32) for role in voices}
    lines, at = [], int(lead * SAMPLE_RATE)
    for (role, samples), (_, text) in zip(pieces, script, strict=True):
        tracks[role][at : at + len(samples)] = samples
        lines.append(Line(role, text, at / SAMPLE_RATE, (at + len(samples)) / SAMPLE_RATE))
        at += len(samples) + pause
    return tracks, lines


def mono_dialogue(path: Path, script: list[tuple[str, str]] = SCRIPT, **options) -> list[Line]:
    tracks, lines = synthesise(script, **options)
    write_wav(path, tracks[THERAPIST] + tracks[PATIENT])
    return lines


def stereo_dialogue(path: Path, script: list[tuple[str, str]] = SCRIPT, bleed_db: float = -24.0,
                    **options) -> list[Line]:
    """The therapist on the left channel and the patient on the right, each channel also carrying
    the other voice `bleed_db` quieter, as two microphones in one room do; the two channels are
    joined by ffmpeg's amerge and encoded as `path`'s extension says (.m4a: AAC)."""
    tracks, lines = synthesise(script, **options)
    bleed = 10 ** (bleed_db / 20)
    with tempfile.TemporaryDirectory() as scratch:
        left = write_wav(Path(scratch) / "left.wav", tracks[THERAPIST] + bleed * tracks[PATIENT])
        right = write_wav(Path(scratch) / "right.wav", tracks[PATIENT] + bleed * tracks[THERAPIST])
        subprocess.run(["ffmpeg", "-y", "-nostdin", "-loglevel", "error", "-i", str(left), "-i", str(right),
                        "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]", str(path)], check=True)
    return lines


def monologue(path: Path, role: str = PATIENT, script: list[tuple[str, str]] = SCRIPT, **options) -> list[Line]:
    """One role's lines alone, with silence where the other would speak: a recording in which
    the other side of the conversation was lost."""
    tracks, lines = synthesise(script, **options)
    write_wav(path, tracks[role])
    return [line for line in lines if line.role == role]


def script_transcript(lines: list[Line], duration: float | None = None) -> Transcript:
    """A transcript as Whisper would give it if it heard every word of the script, one segment per
    line, the words spread evenly over the line: for tests of roles without transcribing."""
    segments = []
    for line in lines:
        tokens = line.text.split()
        step = (line.end - line.start) / len(tokens)
        words = [Word(line.start + i * step, line.start + (i + 1) * step, token, 1.0) for i, token in enumerate(tokens)]
        segments.append(Segment(line.start, line.end, line.text, words))
    return Transcript("en", "script", "script", duration or (lines[-1].end if lines else 0.0), segments)
