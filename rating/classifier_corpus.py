"""The on-model classifier's examples: a case's IPAF, labelled therapist utterances, where they come from
(the seed corpus, supervisors' judgements and evidence marks), and the copies training adds: each
utterance paired with another case's IPAF it does not echo, and each as a recogniser would write it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from rating.classifier_features import echoes

LABELS = ("ipaf_reference", "transference_link")
SOURCES = ("seed", "supervisor")
SEED_CORPUS = Path(__file__).parent / "data" / "seed-corpus"
# Cases written after the model's features were settled, kept out of training, with the focus in other
# words than the IPAF's and hard negatives: the measure of how the model does on cases it never saw.
HELD_OUT = Path(__file__).parent / "data" / "held-out"

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


def mismatched_ipaf_negatives(examples: Sequence[Example]) -> list[Example]:
    """Each IPAF reference, paired with another case's IPAF it does not echo at all, as a negative of both
    labels. Without these the wording alone ("It sounds like...", "That's the pattern") predicts the labels
    on the seed corpus, and a model could score well there while ignoring the IPAF it is given. References
    that put the focus in other words than the IPAF's are paired too: pairing only those that echo it left
    the meaning features free to score a paraphrase high against any IPAF of like feelings (held-out
    scores the same either way, measured)."""
    ipafs = dict(sorted({example.case_id: example.ipaf for example in examples}.items()))
    negatives = []
    for position, example in enumerate(examples):
        if not example.ipaf_reference:
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



# Words a small recogniser commonly mishears for one another in therapy talk, both ways.
MISHEARD = {"their": "there", "there": "their", "your": "you're", "you're": "your", "to": "too", "its": "it's",
            "it's": "its", "then": "than", "than": "then", "were": "where", "where": "were", "know": "no",
            "i'd": "i", "you'd": "you", "we'll": "will", "it": "that", "a": "the", "and": "an"}
_PUNCTUATION = re.compile(r"[^\w\s']")
# On average a word in this many is dropped, and another misheard, as tiny.en does on conversational speech.
ERROR_EVERY = 12


def as_recognised(text: str) -> str:
    """`text` as a recogniser writes it: lower case, no punctuation, and a few words dropped or misheard,
    the same ones every time (the errors are seeded by the text)."""
    chance = random.Random(zlib.crc32(text.encode("utf-8")))
    words = []
    for word in _PUNCTUATION.sub(" ", text.lower()).split():
        roll = chance.random() * ERROR_EVERY
        if roll < 0.5:
            continue
        words.append(MISHEARD.get(word, word) if roll < 1.5 else word)
    return " ".join(words) or text.lower()


def recognised_copies(examples: Sequence[Example]) -> list[Example]:
    """Each example as a recogniser would have written its utterance, labelled the same: real tapes are
    transcribed, and the model should not lean on capitals and commas that transcripts lack."""
    return [replace(example, utterance=copy) for example in examples
            if (copy := as_recognised(example.utterance)) != example.utterance]
