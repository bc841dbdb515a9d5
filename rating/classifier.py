"""The on-model classifier: for each therapist turn, the probability that it refers to the case's IPAF
and the probability that it links the relationship with the therapist (the transference) to the IPAF;
for the session, a phase-aware verdict with its reasons and evidence.

Each label has its own scikit-learn pipeline over (utterance, IPAF) pairs: features of how closely the
utterance echoes each part of the case's IPAF and of the here and now (`rating.classifier_features`),
plus the utterance's own wording, into a logistic regression whose probabilities are calibrated on
held-out cases. Because the features are relative to the IPAF, a model trained on some cases scores
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
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
import yaml
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from rating.classifier_features import PAIR_COLUMNS, IpafEcho, echoes, normalise, pairs_frame
from rating.classifier_session import EVIDENCE_THRESHOLD, is_scored, session_verdict
from rating.phases import Phase

LABELS = ("ipaf_reference", "transference_link")
SOURCES = ("seed", "supervisor")
SEED_CORPUS = Path(__file__).parent / "data" / "seed-corpus"
RANDOM_STATE = 0
# Calibration is fitted on held-out cases, so it needs a few cases per fold.
CALIBRATION_FOLDS = 3
# A model is used only if, on cases it was not trained on, it ranks a random positive above a random
# negative at least this often for every label. The seed model measures about 0.97 and 0.99.
GOOD_ROC_AUC = 0.80
MODEL_PREFIX = "on-model-"
# Competence scale items whose evidence is a therapist turn with the label (a supervisor marking a turn
# as evidence for `transference` says it links the transference to the IPAF).
EVIDENCE_ITEM_LABELS = {
    "ipaf-focus": "ipaf_reference",
    "current-relationships": "ipaf_reference",
    "ipaf-refinement": "ipaf_reference",
    "transference": "transference_link",
}


@dataclass(frozen=True)
class Ipaf:
    """A case's interpersonal-affective focus, in the words agreed with the patient."""

    self_representation: str
    other_representation: str
    affect: str
    summary: str = ""

    @classmethod
    def from_dict(cls, data: Mapping) -> Ipaf:
        """From the JSON form `{"self", "other", "affect", "summary"}`; the summary may be left out."""
        missing = [key for key in ("self", "other", "affect") if not str(data.get(key) or "").strip()]
        if missing:
            raise ValueError(f"An IPAF needs its self, other and affect; missing: {', '.join(missing)}.")
        return cls(str(data["self"]), str(data["other"]), str(data["affect"]), str(data.get("summary") or ""))

    def to_dict(self) -> dict:
        return {"self": self.self_representation, "other": self.other_representation, "affect": self.affect,
                "summary": self.summary}


@dataclass(frozen=True)
class Example:
    """One therapist utterance of a case with what is known of its labels; None is not judged, as when a
    supervisor confirmed only one of the two suggestions."""

    case_id: str
    utterance: str
    ipaf: Ipaf
    ipaf_reference: bool | None
    transference_link: bool | None
    source: str = "seed"

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"An example's source is one of {', '.join(SOURCES)}, not {self.source!r}.")
        if self.ipaf_reference is None and self.transference_link is None:
            raise ValueError("An example needs at least one label.")
        if self.transference_link and self.ipaf_reference is False:
            raise ValueError("A link of the transference to the IPAF is a reference to the IPAF.")

    def to_dict(self) -> dict:
        return {**asdict(self), "ipaf": self.ipaf.to_dict()}


def supervisor_example(case_id: str, utterance: str, ipaf: Ipaf, label: str, value: bool) -> Example:
    """A supervisor's confirmation (`value=True`) or rejection of a suggested label for a therapist turn.
    What the labelling guide implies about the other label is filled in: a link is also a reference, and
    a turn that does not refer to the IPAF cannot link the transference to it."""
    if label not in LABELS:
        raise ValueError(f"A label is one of {', '.join(LABELS)}, not {label!r}.")
    if label == "ipaf_reference":
        return Example(case_id, utterance, ipaf, value, None if value else False, "supervisor")
    return Example(case_id, utterance, ipaf, True if value else None, value, "supervisor")


def evidence_example(case_id: str, utterance: str, ipaf: Ipaf, item_id: str) -> Example | None:
    """A therapist turn a supervisor marked as evidence for a competence scale item, as a positive example
    of that item's label; None for items the classifier does not learn from."""
    label = EVIDENCE_ITEM_LABELS.get(item_id)
    return supervisor_example(case_id, utterance, ipaf, label, True) if label else None


def load_seed_corpus(directory: Path = SEED_CORPUS) -> list[Example]:
    """The seed corpus: one YAML file per fictional case (see the corpus README for the format)."""
    examples = []
    for path in sorted((directory / "cases").glob("*.yaml")):
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        ipaf = Ipaf.from_dict(case["ipaf"])
        for key, ipaf_reference, transference_link in (
            ("transference_link", True, True),
            ("ipaf_reference", True, False),
            ("neither", False, False),
        ):
            for text in case.get(key) or ():
                # An unquoted "a: b" in YAML is a mapping, not a sentence.
                if not isinstance(text, str):
                    raise TypeError(f"{path.name}: {text!r} under '{key}' is not a sentence; quote it.")
                examples.append(Example(case["id"], text, ipaf, ipaf_reference, transference_link, "seed"))
    return examples


def training_data_hash(examples: Iterable[Example]) -> str:
    """SHA-256 of the examples in a canonical form, independent of their order."""
    lines = sorted(json.dumps(example.to_dict(), sort_keys=True, ensure_ascii=False) for example in examples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def build_pipeline() -> Pipeline:
    """The unfitted pipeline for one label: (utterance, IPAF) pairs -> calibrated probability. Fit it with
    `groups` (the case of each row) under metadata routing, so that calibration holds out whole cases."""
    features = ColumnTransformer([
        ("ipaf_echo", make_pipeline(IpafEcho(), StandardScaler()), list(PAIR_COLUMNS)),
        ("wording", TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
         "utterance"),
    ])
    classifier = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=RANDOM_STATE)
    calibrated = CalibratedClassifierCV(classifier, method="sigmoid", cv=GroupKFold(CALIBRATION_FOLDS))
    return Pipeline([("features", features), ("model", calibrated)])


@dataclass(frozen=True, eq=False)
class OnModelClassifier:
    """The fitted pipelines, one per label, and what they were trained on."""

    pipelines: Mapping[str, Pipeline]
    training_sha256: str
    n_examples: int
    n_cases: int
    metrics: tuple[Mapping, ...] = ()  # grouped cross-validation by case, one row per label
    version: str | None = None  # set once saved

    @property
    def good(self) -> bool:
        """Good enough to be used by the service: every label measured, and measured well."""
        scores = {row["label"]: row["roc_auc"] for row in self.metrics}
        return all(scores.get(label) is not None and scores[label] >= GOOD_ROC_AUC for label in LABELS)

    def predict_proba(self, pairs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each label's probability for each (utterance, IPAF) pair (see `pairs_frame`)."""
        probabilities = {label: self.pipelines[label].predict_proba(pairs)[:, 1] for label in LABELS}
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


def mismatched_ipaf_negatives(examples: Sequence[Example]) -> list[Example]:
    """Each IPAF reference that echoes its own case's IPAF, paired with another case's IPAF it does not
    echo at all, as a negative of both labels. Without these the wording alone ("It sounds like...",
    "That's the pattern") predicts the labels on the seed corpus, and a model could score well there
    while ignoring the IPAF it is given."""
    ipafs = dict(sorted({example.case_id: example.ipaf for example in examples}.items()))
    negatives = []
    for position, example in enumerate(examples):
        if not example.ipaf_reference or not echoes(example.utterance, _parts(example.ipaf)):
            continue
        others = [ipaf for case_id, ipaf in ipafs.items()
                  if case_id != example.case_id and not echoes(example.utterance, _parts(ipaf))]
        if others:
            # Spread the pairings over the other cases, the same way every time.
            other = others[position % len(others)]
            negatives.append(replace(example, ipaf=other, ipaf_reference=False, transference_link=False))
    return negatives


def _parts(ipaf: Ipaf) -> tuple[str, str, str]:
    return ipaf.self_representation, ipaf.other_representation, ipaf.affect


def fit(examples: Sequence[Example]) -> OnModelClassifier:
    """Fit both labels' pipelines on the examples and their mismatched-IPAF negatives, without measuring
    them (see `train`)."""
    pipelines = {}
    augmented = [*examples, *mismatched_ipaf_negatives(examples)]
    for label in LABELS:
        rows = [example for example in augmented if getattr(example, label) is not None]
        cases = {example.case_id for example in rows}
        if len(cases) < CALIBRATION_FOLDS:
            raise ValueError(f"Training '{label}' needs examples from at least {CALIBRATION_FOLDS} cases; "
                             f"there are {len(cases)}.")
        labels = np.array([getattr(example, label) for example in rows], dtype=int)
        with sklearn.config_context(enable_metadata_routing=True):
            pipelines[label] = build_pipeline().fit(
                _frame(rows), labels, groups=[example.case_id for example in rows]
            )
    return OnModelClassifier(
        pipelines=pipelines,
        training_sha256=training_data_hash(examples),
        n_examples=len(examples),
        n_cases=len({example.case_id for example in examples}),
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
        # Unmeasurable figures (a label without positives) are NaN in the table and null in JSON.
        metrics=tuple({key: None if isinstance(value, float) and np.isnan(value) else value
                       for key, value in row.items()} for row in metrics.to_dict("records")),
    )


def evaluate(examples: Sequence[Example], n_splits: int = 5) -> pd.DataFrame:
    """Grouped cross-validation by case: each case is scored by a model that never saw it. One row per
    label: examples, positives, precision, recall and F1 at the evidence threshold, ROC-AUC over all
    held-out predictions, and `swapped_ipaf_fpr`, the share of held-out IPAF references still called
    positive when paired with another case's IPAF they do not echo (near 0 when the model reads the
    utterance against the IPAF rather than recognising the style of IPAF work)."""
    examples = list(examples)
    groups = np.array([example.case_id for example in examples])
    n_splits = min(n_splits, len(set(groups)))
    swapped = mismatched_ipaf_negatives(examples)
    held_out = {label: np.full(len(examples), np.nan) for label in LABELS}
    swapped_positive = {label: [] for label in LABELS}
    for train_rows, test_rows in GroupKFold(n_splits).split(examples, groups=groups):
        model = fit([examples[i] for i in train_rows])
        probabilities = model.predict_proba(_frame([examples[i] for i in test_rows]))
        test_cases = set(groups[test_rows])
        test_swapped = [example for example in swapped if example.case_id in test_cases]
        swapped_probabilities = model.predict_proba(_frame(test_swapped)) if test_swapped else None
        for label in LABELS:
            held_out[label][test_rows] = probabilities[label]
            if swapped_probabilities is not None:
                swapped_positive[label] += list(swapped_probabilities[label] >= EVIDENCE_THRESHOLD)
    rows = []
    for label in LABELS:
        known = np.array([getattr(example, label) is not None for example in examples])
        truth = np.array([bool(getattr(example, label)) for example in examples])[known]
        scores = held_out[label][known]
        predicted = scores >= EVIDENCE_THRESHOLD
        rows.append({
            "label": label,
            "n": int(known.sum()),
            "positives": int(truth.sum()),
            "precision": float(precision_score(truth, predicted, zero_division=0)),
            "recall": float(recall_score(truth, predicted, zero_division=0)),
            "f1": float(f1_score(truth, predicted, zero_division=0)),
            "roc_auc": float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else float("nan"),
            "swapped_ipaf_fpr": float(np.mean(swapped_positive[label])) if swapped_positive[label] else float("nan"),
        })
    return pd.DataFrame(rows, columns=["label", "n", "positives", "precision", "recall", "f1", "roc_auc",
                                       "swapped_ipaf_fpr"])


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
    )


def load_newest_good(directory: Path) -> OnModelClassifier | None:
    """The newest model in the directory marked good that loads; None when there is none."""
    candidates = []
    for sidecar_path in Path(directory).glob(f"{MODEL_PREFIX}*.json"):
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if sidecar.get("good") is True and sidecar.get("sklearn_version") == sklearn.__version__:
            candidates.append((str(sidecar.get("version", "")), sidecar_path.parent / str(sidecar.get("model_file"))))
    for _, model_path in sorted(candidates, reverse=True):
        try:
            return load_model(model_path)
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
    """`dit classifier evaluate`: the grouped cross-validation table, to print."""
    return format_table(evaluate([*load_seed_corpus(), *extra_examples], n_splits))
