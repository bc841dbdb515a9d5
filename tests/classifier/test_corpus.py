import re
from collections import Counter

import pytest
import yaml

from rating.classifier_corpus import HELD_OUT, SEED_CORPUS, as_recognised, load_seed_corpus
from tests.classifier.cases import AFTERTHOUGHT, AFTERTHOUGHT_ECHOES, AFTERTHOUGHT_LINK, DISAPPOINTMENT


def test_the_seed_corpus_is_small_and_documented():
    files = [path for path in SEED_CORPUS.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 1_000_000
    readme = " ".join((SEED_CORPUS / "README.md").read_text().split())
    for words in ("Lemma, Target & Fonagy", "fictional", "no patient data", "Licence", "Labelling guide"):
        assert words.lower() in readme.lower()


def test_every_case_has_a_whole_ipaf_and_enough_of_each_label(seed_examples):
    by_case = Counter(example.case_id for example in seed_examples)
    assert len(by_case) >= 12
    for case_id, count in by_case.items():
        examples = [example for example in seed_examples if example.case_id == case_id]
        ipaf = examples[0].ipaf
        assert all(example.ipaf == ipaf for example in examples)
        assert ipaf.self_representation and ipaf.other_representation and ipaf.affect and ipaf.summary
        assert 30 <= count <= 70, case_id
        links = sum(bool(example.transference_link) for example in examples)
        references = sum(bool(example.ipaf_reference) for example in examples)
        assert links >= 8 and references - links >= 10 and count - references >= 15, case_id
        assert len({example.utterance for example in examples}) == count, f"{case_id} repeats an utterance"
        assert all(example.source == "seed" for example in examples)


def test_the_unseen_test_cases_are_not_in_the_seed_corpus(seed_examples):
    seed_ipafs = {example.ipaf for example in seed_examples}
    assert AFTERTHOUGHT not in seed_ipafs and DISAPPOINTMENT not in seed_ipafs
    assert not {AFTERTHOUGHT.self_representation, DISAPPOINTMENT.self_representation} & {
        ipaf.self_representation for ipaf in seed_ipafs
    }
    utterances = {example.utterance for example in seed_examples}
    assert not set(AFTERTHOUGHT_ECHOES + [AFTERTHOUGHT_LINK]) & utterances


def test_an_unquoted_colon_is_refused_rather_than_read_as_a_mapping(tmp_path):
    (tmp_path / "cases").mkdir()
    case = {"id": "x-1", "ipaf": {"self": "a", "other": "b", "affect": "c", "summary": "d"},
            "neither": [{"Let's try a behavioural experiment": "go to the gym"}]}
    (tmp_path / "cases" / "x.yaml").write_text(yaml.safe_dump(case))
    with pytest.raises(TypeError, match="quote it"):
        load_seed_corpus(tmp_path)


def test_the_held_out_cases_share_no_case_or_utterance_with_the_seed_corpus(seed_examples):
    held_out = load_seed_corpus(HELD_OUT)
    assert len({e.case_id for e in held_out}) == 4
    assert not {e.case_id for e in held_out} & {e.case_id for e in seed_examples}
    assert not {e.utterance for e in held_out} & {e.utterance for e in seed_examples}


def test_a_recogniser_like_copy_is_lower_case_unpunctuated_and_the_same_every_time(seed_examples):
    texts = [e.utterance for e in seed_examples]
    copies = [as_recognised(text) for text in texts]
    assert copies == [as_recognised(text) for text in texts]
    assert all(copy == copy.lower() and not re.search(r"[^\w\s']", copy) for copy in copies)
    # A few words in a hundred are dropped or misheard, not whole sentences.
    written = sum(len(re.findall(r"[\w']+", text)) for text in texts)
    heard = sum(len(copy.split()) for copy in copies)
    assert 0.93 * written <= heard < written
    changed = sum(copy.split() != re.sub(r"[^\w\s']", " ", text.lower()).split() for text, copy in zip(texts, copies))
    assert 0.3 * len(texts) <= changed <= 0.95 * len(texts), changed
