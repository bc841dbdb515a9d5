"""Voice prints: a speaker's voice as one L2-normed mean embedding, to recognise the trainee's
voice in a new recording from their earlier ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from transcription.blocks import AudioSource, Samples
from transcription.diarize import SpeakerEncoder, Turn, WindowOptions, load_encoder
from transcription.diarize.mel import gain_for
from transcription.media import SAMPLE_RATE

# How many windows a voice print is taken from (evenly spread over the speaker's turns).
VOICEPRINT_WINDOWS = 60


def _normed(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _print_spans(turns: Sequence[Turn], speaker: int, max_windows: int, windows: WindowOptions
                 ) -> list[tuple[float, float]]:
    spans = []
    for turn in turns:
        if turn.speaker != speaker:
            continue
        start = turn.start
        while turn.end - start >= windows.length_s:
            spans.append((start, start + windows.length_s))
            start += windows.length_s
    if not spans:
        # Short turns only: embed the longest of them whole.
        mine = [t for t in turns if t.speaker == speaker and t.duration >= windows.min_length_s]
        spans = [(t.start, t.end) for t in sorted(mine, key=lambda t: -t.duration)[:max_windows]]
    if len(spans) > max_windows:
        chosen = np.linspace(0, len(spans) - 1, max_windows).round().astype(int)
        spans = [spans[i] for i in chosen]
    return spans


def voiceprints(audio: np.ndarray, turns: Sequence[Turn], speakers: Iterable[int], encoder: SpeakerEncoder | None = None,
                max_windows: int = VOICEPRINT_WINDOWS, windows: WindowOptions = WindowOptions()
                ) -> dict[int, np.ndarray | None]:
    """Each speaker's voice print: the L2-normed mean embedding of up to `max_windows` windows of
    their turns in 16 kHz mono `audio`, windows as long as diarisation's; None for a speaker with
    no turn long enough to embed."""
    return source_voiceprints(Samples(audio), turns, speakers, encoder, max_windows, windows)


def source_voiceprints(source: AudioSource, turns: Sequence[Turn], speakers: Iterable[int],
                       encoder: SpeakerEncoder | None = None, max_windows: int = VOICEPRINT_WINDOWS,
                       windows: WindowOptions = WindowOptions()) -> dict[int, np.ndarray | None]:
    """`voiceprints` of a recording read block by block: each window embedded from the block that holds
    it, and the few a block's edge cuts through left out (a print is a mean of dozens)."""
    spans = {speaker: _print_spans(turns, speaker, max_windows, windows) for speaker in speakers}
    every = [(speaker, int(s * SAMPLE_RATE), int(e * SAMPLE_RATE))
             for speaker, speaker_spans in spans.items() for s, e in speaker_spans]
    if not every:
        return {speaker: None for speaker in spans}
    encoder = encoder or load_encoder()
    gain = gain_for(source.mean_square())
    found: dict[int, list[np.ndarray]] = {speaker: [] for speaker in spans}
    for block in source.blocks():
        end = block.start + block.samples.shape[1]
        mine = [(speaker, s - block.start, e - block.start) for speaker, s, e in every if block.start <= s and e <= end]
        if mine:
            vectors = encoder.embed(block.mono, [(s, e) for _, s, e in mine], gain=gain)
            for (speaker, _, _), vector in zip(mine, vectors, strict=True):
                found[speaker].append(vector)
    return {speaker: _normed(np.mean(vectors, axis=0)) if vectors else None for speaker, vectors in found.items()}


def voiceprint(audio: np.ndarray, turns: Sequence[Turn], speaker: int, encoder: SpeakerEncoder | None = None,
               max_windows: int = VOICEPRINT_WINDOWS, windows: WindowOptions = WindowOptions()) -> np.ndarray | None:
    """One speaker's voice print (see `voiceprints`): what the server keeps of the trainee's voice."""
    return voiceprints(audio, turns, [speaker], encoder, max_windows, windows)[speaker]


def combine_voiceprints(prints: Iterable[np.ndarray], weights: Iterable[float] | None = None) -> np.ndarray | None:
    """One print from several (a trainee's earlier recordings), weighted by e.g. their talk time."""
    prints = [np.asarray(p, dtype=np.float32) for p in prints if p is not None]
    if not prints:
        return None
    weights = np.ones(len(prints)) if weights is None else np.asarray(list(weights), dtype=np.float64)
    return _normed(np.average(np.stack(prints), axis=0, weights=weights))


def voice_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(_normed(a), _normed(b)))
