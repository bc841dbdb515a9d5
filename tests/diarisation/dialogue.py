"""Scripted two-voice therapy dialogues synthesised with espeak-ng, with the timeline of who
speaks when, for the diarisation tests and bench/diarize.py.

Each line is spoken by its role's voice, trimmed of the silence espeak puts around it, and
followed by a pause; the reference turn of a line runs from its first to its last audible sample,
as a person marking up the recording would place it.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
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


def _speak(voice: str, text: str, scratch: Path) -> np.ndarray:
    raw, resampled = scratch / "line.wav", scratch / "line16.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(resampled)], check=True)
    samples = read_wav(resampled)
    # Trim espeak's leading and trailing silence: the line's turn is where it is audible.
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), np.int16).astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16 kHz 16-bit WAV of `samples`: shape (samples,) for mono, (channels, samples) otherwise."""
    samples = np.atleast_2d(samples)
    pcm = np.clip(np.round(samples.T * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return Path(path)


def synthesise(script: list[tuple[str, str]], gap: float = 0.6, lead: float = 0.5,
               voices: dict[str, str] = VOICES) -> tuple[dict[str, np.ndarray], list[Line]]:
    """Each role's track (float32, 16 kHz, all the same length, silent while the other speaks),
    and the timeline of lines."""
    pieces: list[tuple[str, np.ndarray]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for role, text in script:
            pieces.append((role, _speak(voices[role], text, Path(scratch))))
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


def script_transcript(lines: list[Line], duration: float | None = None):
    """A transcript as Whisper would give it if it heard every word of the script, one segment per
    line, the words spread evenly over the line: for tests of roles without transcribing."""
    from transcription.transcript import Segment, Transcript, Word

    segments = []
    for line in lines:
        tokens = line.text.split()
        step = (line.end - line.start) / len(tokens)
        words = [Word(line.start + i * step, line.start + (i + 1) * step, token, 1.0) for i, token in enumerate(tokens)]
        segments.append(Segment(line.start, line.end, line.text, words))
    return Transcript("en", "script", "script", duration or (lines[-1].end if lines else 0.0), segments)


def reference(lines: list[Line]) -> list[tuple[float, float, str]]:
    return [(line.start, line.end, line.role) for line in lines]


def role_at(lines: list[Line], time: float) -> str:
    """The role speaking at `time`, or the nearest line's role in a pause."""
    return min(lines, key=lambda line: max(line.start - time, time - line.end, 0.0)).role


def role_accuracy(transcript, lines: list[Line]) -> float:
    """The fraction of the transcript's words whose segment has the role of the line they were said in."""
    words = [(word, segment.speaker) for segment in transcript.segments for word in segment.words]
    if not words:
        return 0.0
    right = sum(role_at(lines, (word.start + word.end) / 2) == speaker for word, speaker in words)
    return right / len(words)


# --- A long dialogue for the benchmark ------------------------------------------------------------

_OPENERS = ["", "Well, ", "I think ", "Honestly, ", "To be fair, ", "I suppose ", "You know, "]
_PEOPLE = ["my sister", "my partner", "my mother", "my manager", "my best friend", "my father", "my brother"]
_EVENTS = [
    "cancelled our plans at the last minute",
    "did not reply to my messages for three days",
    "made a joke about me in front of everyone",
    "forgot my birthday again",
    "told me I was overreacting",
    "asked me to cover for them at work",
    "criticised the way I handled the children",
]
_FEELINGS = [
    "I felt invisible, as if I did not matter at all",
    "I was furious, but I did not say anything",
    "I went quiet and pretended that it was fine",
    "I felt ashamed, and I could not sleep that night",
    "I wanted to shout, and then I felt guilty for wanting to",
    "I just felt tired and alone",
]
_LINKS = [
    "It reminds me of how things were when I was a child.",
    "It keeps happening, and I never know what to do about it.",
    "I always end up apologising, even when it is not my fault.",
    "Afterwards I kept going over it in my head for days.",
    "I know it sounds small, but it stayed with me all week.",
]
_QUESTIONS = [
    "What happened then?",
    "How did you feel when {who} {event}?",
    "What do you make of that?",
    "Is that a familiar feeling?",
    "What did you want to say to {who}?",
    "What do you imagine {who} was thinking?",
    "How did that leave you feeling about yourself?",
    "Can you say more about that?",
    "When have you felt like that before?",
    "What stopped you from telling {who}?",
]
_REFLECTIONS = [
    "It sounds as if you protect the relationship by hiding what you need.",
    "So part of you was angry, and part of you wanted to keep the peace.",
    "I notice you smile when you talk about being hurt.",
    "That sounds painful.",
    "You seem to expect that asking for something will push people away.",
]


# espeak-ng's pace with these voices and 0.3 s pauses between lines, measured.
WORDS_PER_SECOND = 3.6


def long_script(seconds: float, seed: int = 7) -> list[tuple[str, str]]:
    """A varied therapy dialogue of roughly `seconds`, the therapist asking and reflecting briefly,
    the patient telling at length."""
    rng = random.Random(seed)
    script: list[tuple[str, str]] = []
    words = 0.0
    while words / WORDS_PER_SECOND < seconds:
        who, event = rng.choice(_PEOPLE), rng.choice(_EVENTS)
        if rng.random() < 0.3:
            therapist = rng.choice(_REFLECTIONS) + " " + rng.choice(_QUESTIONS)
        else:
            therapist = rng.choice(_QUESTIONS)
        therapist = therapist.format(who=who, event=event)
        patient = (f"{rng.choice(_OPENERS)}{who} {event}, and {rng.choice(_FEELINGS)}. "
                   f"{rng.choice(_LINKS)}").strip()
        patient = patient[0].upper() + patient[1:]
        script += [(THERAPIST, therapist), (PATIENT, patient)]
        words += len(therapist.split()) + len(patient.split()) + 2
    return script


# --- Two real voices --------------------------------------------------------------------------------


def human_dialogue(path: Path, gap: float = 0.3) -> list[tuple[float, float, str]]:
    """Two people taking turns: the LibriVox reader's five clips (Sense and Sensibility, a woman)
    and John F. Kennedy's sentence cut at its pauses, in turn, with `gap` seconds between: 33 s of
    real voices recorded apart. Returns the timeline as (start, end, "reader" or "jfk")."""
    from tests.media import jfk_wav, librivox
    from transcription.diarize import speech_regions

    jfk = read_wav(jfk_wav())
    pieces_jfk = [jfk[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in speech_regions(jfk, min_silence=0.3)]
    pieces_reader = [read_wav(wav) for wav, _ in librivox()]
    order = []
    for i in range(max(len(pieces_jfk), len(pieces_reader))):
        order += [("reader", p) for p in pieces_reader[i : i + 1]] + [("jfk", p) for p in pieces_jfk[i : i + 1]]
    parts, timeline, at = [], [], 0
    for who, samples in order:
        loud = np.flatnonzero(np.abs(samples) > 0.02)
        samples = samples[loud[0] : loud[-1] + 1]
        timeline.append((at / SAMPLE_RATE, (at + len(samples)) / SAMPLE_RATE, who))
        parts += [samples, np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)]
        at += len(samples) + int(gap * SAMPLE_RATE)
    write_wav(path, np.concatenate(parts))
    return timeline
