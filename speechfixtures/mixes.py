"""Longer recordings joined from the recorded and synthesised speech, with what is said in them
or who says it when."""

from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from speechfixtures.espeak import DIALOGUE, espeak_dialogue
from speechfixtures.recorded import JFK_TEXT, jfk_wav, librivox
from speechfixtures.wavfile import SAMPLE_RATE, read_wav, seconds, write_wav
from transcription.diarize import SpeechRegionOptions, speech_regions


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
        subprocess.run(["sox", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(silence), "trim", "0",
                        str(pause)], check=True)
        rounds = math.ceil(min_seconds / sum(seconds(piece) + pause for piece, _ in pieces))
        files = [str(f) for _ in range(rounds) for piece, _ in pieces for f in (piece, silence)]
        subprocess.run(["sox", "-D", *files, str(path)], check=True)
    return path, " ".join(text for _ in range(rounds) for _, text in pieces)


def human_dialogue(path: Path, gap: float = 0.3) -> list[tuple[float, float, str]]:
    """Two people taking turns: the LibriVox reader's five clips (Sense and Sensibility, a woman)
    and John F. Kennedy's sentence cut at its pauses, in turn, with `gap` seconds between: 33 s of
    real voices recorded apart. Returns the timeline as (start, end, "reader" or "jfk")."""
    jfk = read_wav(jfk_wav())
    cuts = speech_regions(jfk, SpeechRegionOptions(min_silence_s=0.3))
    pieces_jfk = [jfk[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in cuts]
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
