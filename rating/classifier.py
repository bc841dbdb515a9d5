"""The on-model classifier: for each therapist turn, the probability that it refers to the case's IPAF
and the probability that it links the relationship with the therapist (the transference) to the IPAF;
for the session, a phase-aware verdict with its reasons and evidence.

Each label has its own scikit-learn pipeline over (utterance, IPAF) pairs: features of how closely the
utterance echoes each part of the case's IPAF and of the here and now (`rating.classifier_features`), of
how close their meanings are (`rating.classifier_embeddings`) and the utterance's own wording, into a
logistic regression whose probabilities are calibrated on held-out cases. The features learn nothing of
the labels, so the two pipelines share one fitted copy, computed once per utterance for both. Because the features are relative to the IPAF, a model trained on some cases scores
cases it has never seen.

Training data are the seed corpus in `rating/data/seed-corpus/` (fictional, documented there), so a
new installation suggests something on day one, plus the supervisors' judgements made while rating
(`supervisor_example`, `evidence_example`). Models are files: the pipelines (joblib) and a JSON sidecar
with their version, the hash of their training data and their grouped cross-validation metrics; the
service uses the newest good one (`load_newest_good`, `default_model`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from rating.classifier_corpus import (
    HELD_OUT,
    LABELS,
    Example,
    Ipaf,
    as_recognised,
    load_seed_corpus,
    mismatched_ipaf_negatives,
    recognised_copies,
    training_data_hash,
)
from rating.classifier_embeddings import DEFAULT_ENCODER, IpafMeaning, encoder
from rating.classifier_features import PAIR_COLUMNS, IpafEcho, normalise, pairs_frame
from rating.classifier_session import EVIDENCE_THRESHOLD, is_scored, session_verdict
from rating.phases import Phase

RANDOM_STATE = 0
# Calibration is fitted on held-out cases, so it needs a few cases per fold.
CALIBRATION_FOLDS = 3
# A model is used only if, on cases it was not trained on, it ranks a random positive above a random
# negative at least this often for every label. The seed model measures about 0.97 and 0.99.
GOOD_ROC_AUC = 0.80
MODEL_PREFIX = "on-model-"
def build_features(embeddings: str | None = DEFAULT_ENCODER) -> ColumnTransformer:
    """The unfitted features of (utterance, IPAF) pairs, the same for both labels. `embeddings`: the
    sentence-embedding model for the semantic features (`rating.classifier_embeddings`), None for the
    lexical features alone."""
    features = [
        ("ipaf_echo", make_pipeline(IpafEcho(), StandardScaler()), list(PAIR_COLUMNS)),
        ("wording", TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
         "utterance"),
    ]
    if embeddings is not None:
        features.append(("ipaf_meaning", make_pipeline(IpafMeaning(embeddings), StandardScaler()), list(PAIR_COLUMNS)))
    return ColumnTransformer(features)


def build_model() -> CalibratedClassifierCV:
    """The unfitted model of one label over the features. Fit it with `groups` (the case of each row) under
    metadata routing, so that calibration holds out whole cases."""
    classifier = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=RANDOM_STATE)
    return CalibratedClassifierCV(classifier, method="sigmoid", cv=GroupKFold(CALIBRATION_FOLDS))


@dataclass(frozen=True, eq=False)
class OnModelClassifier:
    """The fitted pipelines, one per label, and what they were trained on."""

    pipelines: Mapping[str, Pipeline]
    training_sha256: str
    n_examples: int
    n_cases: int
    metrics: tuple[Mapping, ...] = ()  # grouped cross-validation by case, one row per data and label
    version: str | None = None  # set once saved
    # Of the examples, how many came from supervisors' judgements and evidence marks.
    n_supervisor_examples: int = 0

    @property
    def good(self) -> bool:
        """Good enough to be used by the service: every label measured, and measured well."""
        scores = {row["label"]: row["roc_auc"] for row in self.metrics
                  if row.get("data", CROSS_VALIDATED) == CROSS_VALIDATED}
        return all(scores.get(label) is not None and scores[label] >= GOOD_ROC_AUC for label in LABELS)

    def encoders(self) -> list[str]:
        """The sentence encoders the pipelines use, by name (`rating.classifier_embeddings.encoder`)."""
        return sorted({transformer.steps[0][1].model_dir for pipeline in self.pipelines.values()
                       for name, transformer, _ in pipeline.named_steps["features"].transformers_
                       if name == "ipaf_meaning"})

    def load_encoders(self) -> None:
        """Load the sentence encoders the pipelines use now rather than on the first session scored: one run
        by sentence-transformers takes seconds (torch), which the service then pays once, when it starts."""
        for model_dir in self.encoders():
            encoder(model_dir)

    def predict_proba(self, pairs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each label's probability for each (utterance, IPAF) pair (see `pairs_frame`)."""
        features = {}  # by the identity of the fitted features: the labels' pipelines share theirs
        probabilities = {}
        for label in LABELS:
            pipeline = self.pipelines[label]
            shared = pipeline.named_steps["features"]
            if id(shared) not in features:
                features[id(shared)] = shared.transform(pairs)
            probabilities[label] = pipeline.named_steps["model"].predict_proba(features[id(shared)])[:, 1]
        # Every link is a reference by the labelling guide, so it cannot be the more probable of the two.
        probabilities["transference_link"] = np.minimum(probabilities["transference_link"],
                                                        probabilities["ipaf_reference"])
        return probabilities

    def predict_segments(self, transcript: Mapping, ipaf: Ipaf) -> list[dict]:
        """`{"index", "ipaf_reference", "transference_link"}` for every segment of a transcript; the
        patient's segments and inaudible stretches get None, and without speakers every segment is scored."""
        segments = transcript["segments"]
        scored = [index for index, segment in enumerate(segments) if is_scored(segment)]
        results = [{"index": index, "ipaf_reference": None, "transference_link": None}
                   for index in range(len(segments))]
        if scored:
            probabilities = self.predict_proba(pairs_frame([segments[index]["text"] for index in scored], ipaf))
            for position, index in enumerate(scored):
                for label in LABELS:
                    results[index][label] = round(float(probabilities[label][position]), 3)
        return results

    def classify(self, transcript: Mapping, ipaf: Ipaf, phase: Phase | str | None = None) -> dict:
        """What `dit classify` prints: the segments' scores and the session's verdict."""
        segments = self.predict_segments(transcript, ipaf)
        return {"segments": segments, "session": session_verdict(transcript, segments, phase)}


def _frame(examples: Sequence[Example]) -> pd.DataFrame:
    return pairs_frame([example.utterance for example in examples], [example.ipaf for example in examples])


def fit(examples: Sequence[Example], embeddings: str | None = DEFAULT_ENCODER) -> OnModelClassifier:
    """Fit the features, then each label's model, on the examples, their mismatched-IPAF negatives and their
    copies as a recogniser writes them, without measuring them (see `train`). `embeddings`: see
    `build_features`."""
    augmented = [*examples, *mismatched_ipaf_negatives(examples), *recognised_copies(examples)]
    features = build_features(embeddings)
    matrix = features.fit_transform(_frame(augmented))
    groups = np.array([example.case_id for example in augmented])
    pipelines = {}
    for label in LABELS:
        known = np.array([getattr(example, label) is not None for example in augmented])
        if len(set(groups[known])) < CALIBRATION_FOLDS:
            raise ValueError(f"Training '{label}' needs examples from at least {CALIBRATION_FOLDS} cases; "
                             f"there are {len(set(groups[known]))}.")
        labels = np.array([bool(getattr(example, label)) for example in augmented], dtype=int)[known]
        with sklearn.config_context(enable_metadata_routing=True):
            model = build_model().fit(matrix[known], labels, groups=groups[known])
        pipelines[label] = Pipeline([("features", features), ("model", model)])
    return OnModelClassifier(
        pipelines=pipelines,
        training_sha256=training_data_hash(examples),
        n_examples=len(examples),
        n_cases=len({example.case_id for example in examples}),
        n_supervisor_examples=sum(example.source == "supervisor" for example in examples),
    )


def train(examples: Sequence[Example], n_splits: int = 5) -> OnModelClassifier:
    """Measure the model by grouped cross-validation (`evaluate`), then fit it on all the examples."""
    metrics = evaluate(examples, n_splits)
    model = fit(examples)
    return OnModelClassifier(
        pipelines=model.pipelines,
        training_sha256=model.training_sha256,
        n_examples=model.n_examples,
        n_cases=model.n_cases,
        n_supervisor_examples=model.n_supervisor_examples,
        # Unmeasurable figures (a label without positives) are NaN in the table and null in JSON.
        metrics=tuple({key: None if isinstance(value, float) and np.isnan(value) else value
                       for key, value in row.items()} for row in metrics.to_dict("records")),
    )


def evaluate(examples: Sequence[Example], n_splits: int = 5, embeddings: str | None = DEFAULT_ENCODER) -> pd.DataFrame:
    """Grouped cross-validation by case: each case is scored by a model that never saw it. One row per
    label: examples, positives, precision, recall and F1 at the evidence threshold, ROC-AUC, average
    precision and Brier score over all held-out predictions, and `swapped_ipaf_fpr`, the share of
    held-out IPAF references still called positive when paired with another case's IPAF they do not
    echo (near 0 when the model reads the utterance against the IPAF rather than recognising the style
    of IPAF work). The rows come twice: `data` is CROSS_VALIDATED, and CROSS_VALIDATED_RECOGNISED with the
    held-out utterances as a recogniser writes them (`as_recognised`)."""
    examples = list(examples)
    groups = np.array([example.case_id for example in examples])
    n_splits = min(n_splits, len(set(groups)))
    swapped = mismatched_ipaf_negatives(examples)
    recognised = [replace(example, utterance=as_recognised(example.utterance)) for example in examples]
    held_out = {label: np.full(len(examples), np.nan) for label in LABELS}
    held_out_recognised = {label: np.full(len(examples), np.nan) for label in LABELS}
    swapped_positive = {label: [] for label in LABELS}
    for train_rows, test_rows in GroupKFold(n_splits).split(examples, groups=groups):
        model = fit([examples[i] for i in train_rows], embeddings)
        probabilities = model.predict_proba(_frame([examples[i] for i in test_rows]))
        as_heard = model.predict_proba(_frame([recognised[i] for i in test_rows]))
        test_cases = set(groups[test_rows])
        test_swapped = [example for example in swapped if example.case_id in test_cases]
        swapped_probabilities = model.predict_proba(_frame(test_swapped)) if test_swapped else None
        for label in LABELS:
            held_out[label][test_rows] = probabilities[label]
            held_out_recognised[label][test_rows] = as_heard[label]
            if swapped_probabilities is not None:
                swapped_positive[label] += list(swapped_probabilities[label] >= EVIDENCE_THRESHOLD)
    rows = []
    for data, predictions in ((CROSS_VALIDATED, held_out), (CROSS_VALIDATED_RECOGNISED, held_out_recognised)):
        for label in LABELS:
            known = np.array([getattr(example, label) is not None for example in examples])
            truth = np.array([bool(getattr(example, label)) for example in examples])[known]
            rows.append({
                "data": data, "label": label, **scores(truth, predictions[label][known]),
                "swapped_ipaf_fpr": (float(np.mean(swapped_positive[label]))
                                     if swapped_positive[label] and data == CROSS_VALIDATED else float("nan")),
            })
    return pd.DataFrame(rows, columns=["data", "label", *SCORE_COLUMNS, "swapped_ipaf_fpr"])


CROSS_VALIDATED = "seed, by case"
CROSS_VALIDATED_RECOGNISED = "seed, by case, as recognised"
SCORE_COLUMNS = ("n", "positives", "precision", "recall", "f1", "roc_auc", "average_precision", "brier")


def scores(truth: np.ndarray, probabilities: np.ndarray) -> dict:
    """How well `probabilities` predict `truth` (booleans): counts, precision, recall and F1 at the
    evidence threshold, ROC-AUC and average precision (ranking; NaN without both classes), Brier score
    (calibration: the mean squared error of the probabilities, lower is better)."""
    predicted = probabilities >= EVIDENCE_THRESHOLD
    both = 0 < truth.sum() < len(truth)
    return {
        "n": int(len(truth)),
        "positives": int(truth.sum()),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, probabilities)) if both else float("nan"),
        "average_precision": float(average_precision_score(truth, probabilities)) if both else float("nan"),
        "brier": float(brier_score_loss(truth, probabilities)) if len(truth) else float("nan"),
    }


def format_table(metrics: pd.DataFrame) -> str:
    return metrics.to_string(index=False, float_format=lambda value: f"{value:.3f}")


def _sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, write) -> None:
    """Readers never see a half-written file: write beside it, then rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_model(model: OnModelClassifier, directory: Path) -> Path:
    """Write the model as `on-model-<version>.joblib` with its sidecar `on-model-<version>.json`, and return
    the model file's path. The version is the UTC time of saving, so versions sort by age."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    model_path = directory / f"{MODEL_PREFIX}{version}.joblib"
    _write_atomically(model_path, lambda file: joblib.dump(dict(model.pipelines), file))
    sidecar = {
        "version": version,
        "created_at": now.isoformat(),
        "model_file": model_path.name,
        "model_sha256": _sha256(model_path),
        "sklearn_version": sklearn.__version__,
        "labels": list(LABELS),
        "training_data_sha256": model.training_sha256,
        "n_examples": model.n_examples,
        "n_cases": model.n_cases,
        "n_supervisor_examples": model.n_supervisor_examples,
        "sentence_encoders": model.encoders(),
        "metrics": [dict(row) for row in model.metrics],
        "good": model.good,
        "good_if": f"grouped cross-validation ROC-AUC >= {GOOD_ROC_AUC} for every label",
    }
    # The sidecar comes last: a model file without one is never loaded.
    _write_atomically(_sidecar_path(model_path),
                      lambda file: file.write(json.dumps(sidecar, indent=2, allow_nan=False).encode()))
    return model_path


def read_sidecar(model_path: Path) -> dict:
    return json.loads(_sidecar_path(Path(model_path)).read_text(encoding="utf-8"))


def load_model(model_path: Path) -> OnModelClassifier:
    """Load one model file after checking it is the file its sidecar describes, written by this version
    of scikit-learn (a pickle from another version may load and then predict wrongly)."""
    model_path = Path(model_path)
    sidecar = read_sidecar(model_path)
    if sidecar["sklearn_version"] != sklearn.__version__:
        raise ValueError(f"{model_path.name} was written by scikit-learn {sidecar['sklearn_version']}, "
                         f"this is {sklearn.__version__}; train a new model.")
    if _sha256(model_path) != sidecar["model_sha256"]:
        raise ValueError(f"{model_path.name} is not the file its sidecar describes.")
    return OnModelClassifier(
        pipelines=joblib.load(model_path),
        training_sha256=sidecar["training_data_sha256"],
        n_examples=sidecar["n_examples"],
        n_cases=sidecar["n_cases"],
        metrics=tuple(sidecar["metrics"]),
        version=sidecar["version"],
        n_supervisor_examples=sidecar.get("n_supervisor_examples", 0),
    )


def models_in(directory: Path) -> list[dict]:
    """The sidecars of the models in `directory`, newest first (those that cannot be read left out)."""
    sidecars = []
    for sidecar_path in Path(directory).glob(f"{MODEL_PREFIX}*.json"):
        try:
            sidecars.append(json.loads(sidecar_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(sidecars, key=lambda sidecar: str(sidecar.get("version", "")), reverse=True)


def load_newest_good(directory: Path) -> OnModelClassifier | None:
    """The newest model in the directory marked good that loads; None when there is none."""
    for sidecar in models_in(directory):
        if sidecar.get("good") is True and sidecar.get("sklearn_version") == sklearn.__version__:
            try:
                return load_model(Path(directory) / str(sidecar.get("model_file")))
            except (OSError, ValueError, KeyError):
                continue
    return None


def default_model(models_dir: Path) -> OnModelClassifier:
    """The newest good model in `models_dir`; on a new installation, the seed model, trained on first use
    (cross-validation and fit, a few seconds on 2 cores; the same model every time) and saved there."""
    model = load_newest_good(models_dir)
    if model is not None:
        return model
    model = train(load_seed_corpus())
    if not model.good:
        raise RuntimeError(f"The seed model did not reach ROC-AUC {GOOD_ROC_AUC}: {list(model.metrics)}")
    return load_model(save_model(model, models_dir))


def classify_command(transcript_path: Path, ipaf_path: Path, phase: Phase | str | None, models_dir: Path) -> dict:
    """`dit classify TRANSCRIPT.json --ipaf IPAF.json [--phase P]`: the JSON to print."""
    transcript = json.loads(Path(transcript_path).read_text(encoding="utf-8"))
    ipaf = Ipaf.from_dict(json.loads(Path(ipaf_path).read_text(encoding="utf-8")))
    return default_model(models_dir).classify(transcript, ipaf, phase)


def train_command(models_dir: Path, extra_examples: Iterable[Example] = ()) -> dict:
    """`dit classifier train`: train on the seed corpus and the supervisors' judgements, save the model
    and return its sidecar (with `path`). A model that is not good is saved but not used."""
    model_path = save_model(train([*load_seed_corpus(), *extra_examples]), models_dir)
    return {**read_sidecar(model_path), "path": str(model_path)}


def evaluate_command(extra_examples: Iterable[Example] = (), n_splits: int = 5) -> str:
    """`dit classifier evaluate`: the table of `rating.classifier_report.report`, to print."""
    from rating.classifier_report import report

    return format_table(report([*load_seed_corpus(), *extra_examples], load_seed_corpus(HELD_OUT), n_splits))
