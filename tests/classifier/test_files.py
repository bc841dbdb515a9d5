import json
import re
from dataclasses import replace

import numpy as np
import pytest

from rating.classifier import (
    GOOD_ROC_AUC,
    classify_command,
    default_model,
    evaluate_command,
    load_model,
    load_newest_good,
    read_sidecar,
    save_model,
    train_command,
)
from rating.classifier_corpus import LABELS, Example, Ipaf, evidence_example, supervisor_example, training_data_hash
from rating.classifier_features import pairs_frame
from tests.classifier.cases import AFTERTHOUGHT, AFTERTHOUGHT_ECHOES, AFTERTHOUGHT_LINK, GENERIC, dialogue


def bad(model):
    return replace(model, metrics=tuple({**row, "roc_auc": GOOD_ROC_AUC - 0.2} for row in model.metrics))


def version(model_path):
    return read_sidecar(model_path)["version"]


def test_a_saved_model_loads_with_its_hash_and_metrics(seed_model, seed_examples, tmp_path):
    path = save_model(seed_model, tmp_path)
    assert path.name.startswith("on-model-") and path.suffix == ".joblib"
    sidecar = read_sidecar(path)
    assert sidecar["training_data_sha256"] == training_data_hash(seed_examples)
    assert sidecar["n_examples"] == len(seed_examples)
    assert sidecar["n_cases"] == 22
    # The sentence encoder's weights (90 MB) are not in the model file: it names the encoder, loaded apart.
    assert path.stat().st_size < 5_000_000
    assert sidecar["metrics"] == [dict(row) for row in seed_model.metrics]
    assert sidecar["good"] is True
    assert sidecar["labels"] == list(LABELS)

    loaded = load_model(path)
    assert loaded.version == sidecar["version"]
    assert loaded.training_sha256 == seed_model.training_sha256
    assert loaded.metrics == seed_model.metrics
    pairs = pairs_frame(AFTERTHOUGHT_ECHOES + GENERIC, AFTERTHOUGHT)
    for label in LABELS:
        np.testing.assert_array_equal(loaded.predict_proba(pairs)[label], seed_model.predict_proba(pairs)[label])


def test_the_newest_good_model_is_used_and_bad_or_broken_ones_skipped(seed_model, tmp_path):
    assert load_newest_good(tmp_path) is None
    assert load_newest_good(tmp_path / "missing") is None

    older = save_model(seed_model, tmp_path)
    not_good = save_model(bad(seed_model), tmp_path)
    assert read_sidecar(not_good)["good"] is False
    assert load_newest_good(tmp_path).version == version(older)

    newer = save_model(seed_model, tmp_path)
    assert version(newer) > version(older)
    assert load_newest_good(tmp_path).version == version(newer)

    changed = save_model(seed_model, tmp_path)
    changed.write_bytes(changed.read_bytes() + b"\0")
    other_sklearn = save_model(seed_model, tmp_path)
    sidecar = read_sidecar(other_sklearn)
    other_sklearn.with_suffix(".json").write_text(json.dumps({**sidecar, "sklearn_version": "0.0.1"}))
    (tmp_path / "on-model-99999999T000000000000Z.json").write_text("{not json")
    assert load_newest_good(tmp_path).version == version(newer)
    with pytest.raises(ValueError, match="not the file"):
        load_model(changed)
    with pytest.raises(ValueError, match="scikit-learn"):
        load_model(other_sklearn)


def test_the_training_data_hash_ignores_order_and_sees_every_change(seed_examples):
    assert training_data_hash(seed_examples) == training_data_hash(list(reversed(seed_examples)))
    changed = [replace(seed_examples[0], ipaf_reference=not seed_examples[0].ipaf_reference,
                       transference_link=False), *seed_examples[1:]]
    assert training_data_hash(changed) != training_data_hash(seed_examples)


def test_supervisors_judgements_become_examples():
    confirmed_link = supervisor_example("CASE-7", AFTERTHOUGHT_LINK, AFTERTHOUGHT, "transference_link", True)
    assert (confirmed_link.ipaf_reference, confirmed_link.transference_link) == (True, True)
    rejected_link = supervisor_example("CASE-7", AFTERTHOUGHT_ECHOES[0], AFTERTHOUGHT, "transference_link", False)
    assert (rejected_link.ipaf_reference, rejected_link.transference_link) == (None, False)
    rejected_reference = supervisor_example("CASE-7", GENERIC[0], AFTERTHOUGHT, "ipaf_reference", False)
    assert (rejected_reference.ipaf_reference, rejected_reference.transference_link) == (False, False)
    confirmed_reference = supervisor_example("CASE-7", AFTERTHOUGHT_ECHOES[0], AFTERTHOUGHT, "ipaf_reference", True)
    assert (confirmed_reference.ipaf_reference, confirmed_reference.transference_link) == (True, None)
    assert confirmed_reference.source == "supervisor"

    marked = evidence_example("CASE-7", AFTERTHOUGHT_LINK, AFTERTHOUGHT, "transference")
    assert marked.transference_link is True and marked.ipaf_reference is True
    assert evidence_example("CASE-7", AFTERTHOUGHT_ECHOES[1], AFTERTHOUGHT, "ipaf-focus").ipaf_reference is True
    assert evidence_example("CASE-7", GENERIC[0], AFTERTHOUGHT, "alliance") is None
    with pytest.raises(ValueError):
        supervisor_example("CASE-7", GENERIC[0], AFTERTHOUGHT, "empathy", True)


def test_examples_and_ipafs_are_checked():
    with pytest.raises(ValueError, match="source"):
        Example("c", "text", AFTERTHOUGHT, True, False, source="web")
    with pytest.raises(ValueError, match="at least one label"):
        Example("c", "text", AFTERTHOUGHT, None, None)
    with pytest.raises(ValueError, match="reference"):
        Example("c", "text", AFTERTHOUGHT, False, True)
    with pytest.raises(ValueError, match="other"):
        Ipaf.from_dict({"self": "a burden", "affect": "shame"})
    ipaf = Ipaf.from_dict({"self": "a burden", "other": "impatient", "affect": "shame"})
    assert ipaf.summary == ""
    assert Ipaf.from_dict(AFTERTHOUGHT.to_dict()) == AFTERTHOUGHT


def test_classify_command_prints_the_issue_json(seed_model, tmp_path):
    models = tmp_path / "models"
    save_model(seed_model, models)
    transcript_path, ipaf_path = tmp_path / "session.json", tmp_path / "ipaf.json"
    transcript_path.write_text(json.dumps(dialogue([AFTERTHOUGHT_LINK, *AFTERTHOUGHT_ECHOES, *GENERIC])))
    ipaf_path.write_text(json.dumps(AFTERTHOUGHT.to_dict()))

    result = classify_command(transcript_path, ipaf_path, "middle", models)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    segments = result["segments"]
    assert len(segments) == 2 * (1 + len(AFTERTHOUGHT_ECHOES) + len(GENERIC))
    assert segments[0]["index"] == 0 and segments[0]["transference_link"] > 0.5
    assert segments[1] == {"index": 1, "ipaf_reference": None, "transference_link": None}
    assert result["session"]["verdict"] in {"on-model", "drifting", "off-model"}
    assert result["session"]["reasons"] and result["session"]["evidence"]


def test_a_new_installation_trains_the_seed_model_once(seed_model_dir, seed_examples):
    """The session's seed model is what `default_model` trained in an empty directory (tests/seed_model.py,
    afresh whenever the classifier or its corpus changed): one good model of the seed corpus, not trained
    again when asked for again."""
    model = default_model(seed_model_dir)
    assert model.good and model.version
    assert model.training_sha256 == training_data_hash(seed_examples)
    assert len(list(seed_model_dir.glob("*.joblib"))) == 1
    assert default_model(seed_model_dir).version == model.version
    assert len(list(seed_model_dir.glob("*.joblib"))) == 1


@pytest.mark.slow
def test_train_command_adds_the_supervisors_judgements(seed_examples, tmp_path):
    judgements = [
        supervisor_example("CASE-7", AFTERTHOUGHT_LINK, AFTERTHOUGHT, "transference_link", True),
        supervisor_example("CASE-7", "You seem annoyed with me.", AFTERTHOUGHT, "transference_link", False),
        evidence_example("CASE-7", AFTERTHOUGHT_ECHOES[0], AFTERTHOUGHT, "ipaf-focus"),
    ]
    sidecar = train_command(tmp_path, judgements)
    assert sidecar["n_examples"] == len(seed_examples) + len(judgements)
    assert sidecar["n_cases"] == 23
    assert sidecar["training_data_sha256"] == training_data_hash([*seed_examples, *judgements])
    assert sidecar["training_data_sha256"] != training_data_hash(seed_examples)
    assert sidecar["good"] is True
    assert load_newest_good(tmp_path).version == sidecar["version"]


@pytest.mark.slow
def test_evaluate_command_prints_each_feature_set_on_each_data_per_label():
    table = evaluate_command(n_splits=2)
    header, *rows = table.splitlines()
    assert header.split() == ["features", "data", "label", "n", "positives", "precision", "recall", "f1", "roc_auc",
                              "average_precision", "brier"]
    assert len(rows) == 2 * 4 * len(LABELS)
    for features in ("lexical", "lexical + meaning"):
        for data in ("seed, by case", "seed, by case, as recognised", "held-out cases", "held-out cases, as recognised"):
            for label in LABELS:
                line = re.compile(rf"^\s*{re.escape(features)}\s+{re.escape(data)}\s+{label}\s+\d")
                assert sum(bool(line.match(row)) for row in rows) == 1, (features, data, label)
