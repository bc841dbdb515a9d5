import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from rating.classifier import CROSS_VALIDATED, fit
from rating.classifier_corpus import HELD_OUT, LABELS, load_seed_corpus
from rating.classifier_features import pairs_frame
from rating.classifier_report import HELD_OUT_CASES, HELD_OUT_RECOGNISED, held_out_scores
from tests.classifier.cases import (
    AFTERTHOUGHT,
    AFTERTHOUGHT_ECHOES,
    AFTERTHOUGHT_LINK,
    DISAPPOINTMENT,
    DISAPPOINTMENT_ECHOES,
    GENERIC,
    RELATIONSHIP_ONLY,
    transcript,
)

# Grouped cross-validation on the seed corpus measures about 0.97 (ipaf_reference) and 0.99
# (transference_link); the bound leaves room for edits to the corpus without hiding a broken model.
MIN_CV_ROC_AUC = 0.92


def probabilities(model, utterances, ipaf):
    return model.predict_proba(pairs_frame(utterances, ipaf))


def test_grouped_cross_validation_by_case_separates_both_labels(seed_model):
    metrics = {row["label"]: row for row in seed_model.metrics if row["data"] == CROSS_VALIDATED}
    assert set(metrics) == set(LABELS)
    for label in LABELS:
        assert metrics[label]["roc_auc"] > MIN_CV_ROC_AUC, metrics[label]
        assert metrics[label]["precision"] > 0.85, metrics[label]
        assert metrics[label]["recall"] > 0.7, metrics[label]
    assert seed_model.good


@pytest.mark.parametrize(
    ("ipaf", "echoes"), [(AFTERTHOUGHT, AFTERTHOUGHT_ECHOES), (DISAPPOINTMENT, DISAPPOINTMENT_ECHOES)]
)
def test_an_unseen_case_scores_its_ipaf_echoes_above_generic_talk(seed_model, ipaf, echoes):
    others = GENERIC + RELATIONSHIP_ONLY
    scores = probabilities(seed_model, echoes + others, ipaf)["ipaf_reference"]
    truth = [1] * len(echoes) + [0] * len(others)
    assert roc_auc_score(truth, scores) > 0.95
    assert np.median(scores[: len(echoes)]) > 0.8
    assert np.max(scores[len(echoes) :]) < 0.5


def test_the_same_words_do_not_refer_to_another_cases_ipaf(seed_model):
    """The model reads the utterance against the IPAF it is given, not its wording alone."""
    own = probabilities(seed_model, AFTERTHOUGHT_ECHOES, AFTERTHOUGHT)["ipaf_reference"]
    other = probabilities(seed_model, AFTERTHOUGHT_ECHOES, DISAPPOINTMENT)["ipaf_reference"]
    assert np.mean(own) - np.mean(other) > 0.5


def test_a_relationship_remark_is_a_link_only_when_tied_to_the_ipaf(seed_model):
    scores = probabilities(seed_model, [AFTERTHOUGHT_LINK, *RELATIONSHIP_ONLY], AFTERTHOUGHT)["transference_link"]
    assert scores[0] > 0.5
    assert all(score < 0.2 for score in scores[1:]), scores
    annoyed = probabilities(seed_model, ["you seem annoyed with me"], AFTERTHOUGHT)
    assert annoyed["transference_link"][0] < 0.5
    assert annoyed["ipaf_reference"][0] < 0.5


def test_an_ipaf_reference_about_someone_else_is_not_a_link(seed_model):
    scores = probabilities(seed_model, AFTERTHOUGHT_ECHOES, AFTERTHOUGHT)
    assert np.all(scores["transference_link"] < 0.5)
    assert np.all(scores["ipaf_reference"] > 0.5)


def test_links_of_an_ipaf_put_in_other_words_rank_above_plain_references(seed_model):
    links, references = DISAPPOINTMENT_ECHOES[-2:], DISAPPOINTMENT_ECHOES[:-2]
    scores = probabilities(seed_model, links + references, DISAPPOINTMENT)["transference_link"]
    assert min(scores[:2]) > max(scores[2:])


def test_a_link_is_never_more_probable_than_a_reference(seed_model):
    scores = probabilities(seed_model, AFTERTHOUGHT_ECHOES + GENERIC + [AFTERTHOUGHT_LINK], AFTERTHOUGHT)
    assert np.all(scores["transference_link"] <= scores["ipaf_reference"])


def test_patient_segments_get_no_probabilities(seed_model):
    session = transcript([("therapist", AFTERTHOUGHT_LINK), ("patient", "Maybe. I hadn't thought of that."),
                          ("Therapist", GENERIC[0]), ("SPEAKER_02", GENERIC[1]), ("Patient", "Yes.")])
    scores = seed_model.predict_segments(session, AFTERTHOUGHT)
    assert [score["index"] for score in scores] == [0, 1, 2, 3, 4]
    assert scores[1] == {"index": 1, "ipaf_reference": None, "transference_link": None}
    assert scores[4]["ipaf_reference"] is None
    for index in (0, 2, 3):
        assert isinstance(scores[index]["ipaf_reference"], float)
        assert isinstance(scores[index]["transference_link"], float)
    assert scores[0]["transference_link"] > 0.5


def test_an_inaudible_stretch_is_not_scored_as_the_therapists_words(seed_model):
    session = transcript([("therapist", AFTERTHOUGHT_LINK), ("therapist", "[inaudible 0:57–1:06]")])
    session["segments"][1]["inaudible"] = True
    scores = seed_model.predict_segments(session, AFTERTHOUGHT)
    assert scores[1] == {"index": 1, "ipaf_reference": None, "transference_link": None}
    assert scores[0]["transference_link"] > 0.5


def test_without_speakers_every_segment_is_scored(seed_model):
    session = transcript([(None, line) for line in [AFTERTHOUGHT_LINK, "I don't know.", *GENERIC[:3]]])
    scores = seed_model.predict_segments(session, AFTERTHOUGHT)
    assert all(score["ipaf_reference"] is not None and score["transference_link"] is not None for score in scores)


def test_probabilities_are_between_zero_and_one(seed_model, seed_examples):
    utterances = [example.utterance for example in seed_examples] + ["", "?", "Mm.", "x" * 2000]
    scores = probabilities(seed_model, utterances, AFTERTHOUGHT)
    for label in LABELS:
        assert scores[label].shape == (len(utterances),)
        assert np.all((scores[label] >= 0) & (scores[label] <= 1))
    session = transcript([("therapist", text) for text in utterances[:50]])
    for score in seed_model.predict_segments(session, AFTERTHOUGHT):
        assert 0 <= score["ipaf_reference"] <= 1 and 0 <= score["transference_link"] <= 1


def test_training_is_deterministic(seed_model):
    """The seed model trained on first use is the same model on every installation: nothing is drawn at
    random. Up to the sentence encoder's rounding, that is: a text's embedding differs in its last digits
    with the other texts of its batch (their padding changes the shapes of the matrix products), and which
    texts share a batch depends on what this process had embedded before (1e-6 apart, measured)."""
    again = fit(load_seed_corpus())
    pairs = pairs_frame(AFTERTHOUGHT_ECHOES + GENERIC, AFTERTHOUGHT)
    first, second = seed_model.predict_proba(pairs), again.predict_proba(pairs)
    for label in LABELS:
        np.testing.assert_allclose(first[label], second[label], rtol=0, atol=1e-5)
    assert again.training_sha256 == seed_model.training_sha256


@pytest.mark.parametrize("recognised", [False, True], ids=["as written", "as recognised"])
def test_cases_it_never_saw_with_the_focus_in_other_words_meet_the_targets(seed_model, recognised):
    """The held-out cases (rating/data/held-out/): themes outside the seed corpus, the focus named in other
    words than the IPAF's, hard negatives; and the same lower-cased, unpunctuated, with a few words lost
    or misheard, as a recogniser writes them. Targets: ROC-AUC 0.95 for a reference to the IPAF, 0.92 for
    a link of the transference to it."""
    data = HELD_OUT_RECOGNISED if recognised else HELD_OUT_CASES
    measured = {row["label"]: row["roc_auc"] for row in held_out_scores(seed_model, load_seed_corpus(HELD_OUT))
                if row["data"] == data}
    assert measured["ipaf_reference"] >= 0.95 and measured["transference_link"] >= 0.92, measured
