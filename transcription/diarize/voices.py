"""Telling speakers apart by voice: speaker embeddings over short sliding windows of the speech,
the windows clustered (scikit-learn, agglomerative on cosine distance, then refined about the
cluster centres), and each stretch of speech given the speaker that most windows over it vote
for; a change of speaker inside a stretch of speech is then moved to the quietest moment near it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from transcription.blocks import AudioSource, Samples
from transcription.diarize.encoders import SpeakerEncoder, load_encoder
from transcription.diarize.mel import gain_for
from transcription.diarize.options import ClusterOptions, DiarisationOptions, TurnOptions, WindowOptions
from transcription.diarize.speech import frame_levels, speech_regions
from transcription.diarize.turns import (
    Diarisation,
    fill,
    first_appearance,
    frame_count,
    label_turns,
    runs,
    smooth,
    speech_mask,
    speech_seconds,
)
from transcription.media import SAMPLE_RATE


def window_spans(regions: Sequence[tuple[float, float]], options: WindowOptions = WindowOptions()
                 ) -> list[tuple[float, float]]:
    """Sliding windows over each speech region, every one inside its region: a region shorter than
    a window is one window; the last window of a region ends with the region."""
    spans = []
    for start, end in regions:
        length = end - start
        if length < options.min_length_s:
            continue
        if length <= options.length_s:
            spans.append((start, end))
            continue
        count = math.ceil((length - options.length_s) / options.step_s) + 1
        for i in range(count):
            s = min(start + i * options.step_s, end - options.length_s)
            spans.append((s, s + options.length_s))
    return spans


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    centres = np.stack([embeddings[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(embeddings.shape[1])
                        for c in range(k)])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-8)


def cluster(embeddings: np.ndarray, n_speakers: int | None = 2, options: ClusterOptions = ClusterOptions()
            ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Labels for L2-normed embeddings, each cluster's centre, and the silhouette (cosine) of the
    clustering (None for one cluster): agglomerative clustering on cosine distance (average
    linkage), refined by reassigning each embedding to its nearest centre until none moves.

    Past `options.max_windows` windows, the agglomerative step and the silhouette see an even sample of
    them, and every window joins its nearest centre: memory stays bounded however long the session.

    `n_speakers` None: from 1 to `options.max_speakers`, the count whose clustering has the best
    silhouette, if that reaches `min_silhouette` with every cluster holding `min_cluster_share` of
    the windows, and there are `min_windows_to_count` windows at all; otherwise one.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros((0, embeddings.shape[1] if embeddings.ndim == 2 else 0)), None
    # Pairwise distances of `options.max_windows` at most (see ClusterOptions).
    sample = np.unique(np.linspace(0, n - 1, min(n, options.max_windows)).round().astype(int))

    def fit(k: int) -> np.ndarray:
        sampled = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(
            embeddings[sample])
        labels = (sampled if len(sample) == n
                  else np.argmax(embeddings @ _centroids(embeddings[sample], sampled, k).T, axis=1))
        for _ in range(20):
            refined = np.argmax(embeddings @ _centroids(embeddings, labels, k).T, axis=1)
            if np.array_equal(refined, labels) or len(np.unique(refined)) < k:
                break
            labels = refined
        return labels

    def silhouette(labels: np.ndarray) -> float | None:
        if not 1 < len(np.unique(labels[sample])) < len(sample):
            return None
        return float(silhouette_score(embeddings[sample], labels[sample], metric="cosine"))

    if n_speakers is None:
        best_k, best_labels, best_score = 1, np.zeros(n, dtype=int), None
        if n >= options.min_windows_to_count:
            for k in range(2, options.max_speakers + 1):
                labels = fit(k)
                if np.bincount(labels, minlength=k).min() < options.min_cluster_share * n:
                    continue
                score = silhouette(labels)
                if score is not None and score >= options.min_silhouette and (best_score is None or score > best_score):
                    best_k, best_labels, best_score = k, labels, score
        return best_labels, _centroids(embeddings, best_labels, best_k), best_score
    k = max(1, min(n_speakers, n))
    labels = fit(k) if k > 1 else np.zeros(n, dtype=int)
    return labels, _centroids(embeddings, labels, k), silhouette(labels)


def diarise_voices(audio: np.ndarray, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                   regions: Sequence[tuple[float, float]] | None = None,
                   options: DiarisationOptions = DiarisationOptions()) -> Diarisation:
    """Turns of 16 kHz mono `audio` by voice: VAD, window embeddings, clustering, voting."""
    regions = speech_regions(audio, options.speech) if regions is None else regions
    return voice_turns(Samples(audio), regions, n_speakers, encoder, options)


def voice_turns(source: AudioSource, regions: Sequence[tuple[float, float]], n_speakers: int | None = 2,
                encoder: SpeakerEncoder | None = None, options: DiarisationOptions = DiarisationOptions()
                ) -> Diarisation:
    """`diarise_voices` of a recording read block by block (its mono mix), given its speech regions."""
    grid = options.turns
    duration = source.duration
    regions = list(regions)
    frames = frame_count(duration, grid)
    speech = speech_mask(regions, frames, grid)
    spans = window_spans(regions, options.windows)
    if options.windows.short_length_s:
        short = replace(options.windows, length_s=options.windows.short_length_s, step_s=options.windows.short_step_s)
        spans += sorted(set(window_spans(regions, short)) - set(spans))
    if not spans:
        labels = np.where(speech, 0, -1)
        turns = label_turns(labels, np.ones(frames), options=grid)
        return Diarisation(turns, duration, "voices", 1 if turns else 0, speech_seconds(turns))
    embeddings, levels = _embeddings_and_levels(source, spans, encoder or load_encoder(), grid)
    # Windows cut short by a short stretch of speech, and the short windows, embed differently from full ones
    # whoever speaks (they cluster by length), so the speakers are found from full windows alone; all vote.
    full = np.array([e - s >= options.windows.length_s - 1e-6 for s, e in spans])
    fitted = full if full.sum() >= 2 else np.ones(len(spans), dtype=bool)
    _, centres, separation = cluster(embeddings[fitted], n_speakers, options.clusters)
    k = len(centres)
    # Each window votes for every speaker by its softmaxed similarity to their centres.
    similarity = embeddings @ centres.T
    votes = np.exp((similarity - similarity.max(axis=1, keepdims=True)) / grid.vote_temperature)
    votes /= votes.sum(axis=1, keepdims=True)
    tally = np.zeros((frames + 1, k))
    for (s, e), vote in zip(spans, votes, strict=True):
        tally[round(s / grid.frame_s)] += vote
        tally[min(round(e / grid.frame_s), frames)] -= vote
    tally = np.cumsum(tally, axis=0)[:frames]
    voted = tally.sum(axis=1) > 1e-9
    labels = np.where(speech, np.argmax(tally, axis=1), -1)
    confidence = np.where(voted, tally.max(axis=1) / np.maximum(tally.sum(axis=1), 1e-9), 0.5)
    # Speech no window covers (a stretch too short to embed) takes its nearest voted neighbour.
    labels = fill(labels, speech & ~voted)
    labels = smooth(labels, grid)
    labels = _snap_changes(labels, levels, grid)
    turns = label_turns(labels, confidence, options=grid)
    order = first_appearance(labels)
    return Diarisation(turns, duration, "voices", len(order), speech_seconds(turns),
                       {order[c]: centres[c] for c in order}, separation)


def _embeddings_and_levels(source: AudioSource, spans: Sequence[tuple[float, float]], encoder: SpeakerEncoder,
                           grid: TurnOptions) -> tuple[np.ndarray, np.ndarray]:
    """Each window's embedding, and the mono mix's frame levels, block by block. A window lies inside a
    speech region, and each region inside a block, so every window is embedded from the block it starts in."""
    starts = np.array([int(s * SAMPLE_RATE) for s, _ in spans])
    gain = gain_for(source.mean_square())
    found: list[tuple[np.ndarray, np.ndarray]] = []
    levels = []
    for block in source.blocks():
        mono, end = block.mono, block.start + block.samples.shape[1]
        mine = np.flatnonzero((starts >= block.start) & (starts < end))
        ranges = [(int(spans[i][0] * SAMPLE_RATE) - block.start,
                   min(int(spans[i][1] * SAMPLE_RATE), end) - block.start) for i in mine]
        found.append((mine, encoder.embed(mono, ranges, gain=gain)))
        levels.append(frame_levels(mono[None], grid)[0])
    dimensions = next(vectors.shape[1] for _, vectors in found if len(vectors))
    embeddings = np.zeros((len(spans), dimensions), np.float32)
    for mine, vectors in found:
        embeddings[mine] = vectors
    return embeddings, np.concatenate(levels)


def _snap_changes(labels: np.ndarray, levels: np.ndarray, options: TurnOptions) -> np.ndarray:
    """Move each change of speaker inside a stretch of speech to the quietest moment within
    `options.snap_s` of where the votes put it: people mostly hand over in a pause, however short,
    and the windows place a change only to within a fraction of their length."""
    labels = labels.copy()
    reach_frames = round(options.snap_s / options.frame_s)
    # Level averaged over 140 ms: a pause between speakers, not the closure of a stop consonant.
    quiet = np.convolve(np.pad(levels, (0, max(0, len(labels) - len(levels))), constant_values=-120.0)[: len(labels)],
                        np.ones(7) / 7, mode="same")
    for (s0, e0, a), (s1, e1, b) in itertools.pairwise(runs(labels)):
        if a < 0 or b < 0:
            continue
        # Within reach, and leaving each run at least half its length.
        low = max(e0 - reach_frames, s0 + (e0 - s0) // 2)
        high = min(e0 + reach_frames, e1 - (e1 - s1) // 2)
        if high <= low:
            continue
        cut = low + int(np.argmin(quiet[low:high]))
        if cut < e0:
            labels[cut:e0] = b
        else:
            labels[e0:cut] = a
    return labels
