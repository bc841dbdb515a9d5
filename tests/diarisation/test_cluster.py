"""Clustering window embeddings into speakers, on embeddings made to a known truth: a long session's
thousands of windows are clustered from an even sample and the rest join their nearest centre, which
finds the speakers that clustering them all finds."""

from __future__ import annotations

import numpy as np

from transcription.diarize import ClusterOptions, cluster


def voices(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` unit embeddings of two voices taking turns in runs of 20 windows, and who each is."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2, 64))
    truth = (np.arange(n) // 20) % 2
    embeddings = centres[truth] + rng.standard_normal((n, 64)) * 0.8
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True), truth


def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    """The share of windows labelled as the truth, whichever number each speaker was given."""
    return max(np.mean(labels == truth), np.mean(labels != truth))


def test_thousands_of_windows_are_clustered_from_a_sample_as_from_all_of_them():
    embeddings, truth = voices(3000)
    sampled, centres, separation = cluster(embeddings, 2, ClusterOptions(max_windows=300))
    whole, _, whole_separation = cluster(embeddings, 2, ClusterOptions(max_windows=5000))
    assert centres.shape == (2, 64)
    assert agreement(sampled, truth) >= 0.99 and agreement(whole, truth) >= 0.99
    assert agreement(sampled, whole) >= 0.99
    assert abs(separation - whole_separation) < 0.05


def test_the_number_of_speakers_is_found_from_the_sample():
    embeddings, _ = voices(3000, seed=1)
    labels, centres, _ = cluster(embeddings, None, ClusterOptions(max_windows=300))
    assert len(centres) == 2 and set(np.unique(labels)) == {0, 1}
    one_voice = embeddings[((np.arange(3000) // 20) % 2) == 0]
    assert len(cluster(one_voice, None, ClusterOptions(max_windows=300))[1]) == 1
