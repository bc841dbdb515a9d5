"""`dit classifier evaluate`: how the on-model classifier does, with and without the semantic features,
on the seed corpus cross-validated by case, on the same as a recogniser writes it, and on the held-out
cases (`rating/data/held-out/`), which no model is trained on: one tidy table, a row per feature set,
data and label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from rating.classifier import SCORE_COLUMNS, evaluate, fit, scores
from rating.classifier_corpus import LABELS, Example, as_recognised
from rating.classifier_embeddings import DEFAULT_ENCODER
from rating.classifier_features import pairs_frame

FEATURE_SETS = {"lexical": None, "lexical + meaning": DEFAULT_ENCODER}
HELD_OUT_CASES = "held-out cases"
HELD_OUT_RECOGNISED = "held-out cases, as recognised"
COLUMNS = ("features", "data", "label", *SCORE_COLUMNS)


def held_out_scores(model, held_out: Sequence[Example]) -> list[dict]:
    """`scores` of a fitted model on cases it was not trained on, as written and as a recogniser writes them."""
    rows = []
    for data, examples in ((HELD_OUT_CASES, held_out),
                           (HELD_OUT_RECOGNISED, [replace(e, utterance=as_recognised(e.utterance)) for e in held_out])):
        probabilities = model.predict_proba(pairs_frame([e.utterance for e in examples], [e.ipaf for e in examples]))
        for label in LABELS:
            known = np.array([getattr(e, label) is not None for e in examples])
            truth = np.array([bool(getattr(e, label)) for e in examples])[known]
            rows.append({"data": data, "label": label, **scores(truth, probabilities[label][known])})
    return rows


def report(examples: Sequence[Example], held_out: Sequence[Example], n_splits: int = 5) -> pd.DataFrame:
    rows = []
    for features, embeddings in FEATURE_SETS.items():
        measured = evaluate(examples, n_splits, embeddings).to_dict("records")
        if held_out:
            measured += held_out_scores(fit(examples, embeddings), held_out)
        rows += [{"features": features, **row} for row in measured]
    return pd.DataFrame(rows, columns=list(COLUMNS))
