"""The competence scale that tapes are rated against: its items, score range and pass rule.

A scale is a versioned YAML file, checked against `data/scale.schema.json` and then for what a
schema cannot say (anchors inside the score range, unique item ids), so that a course can bring its
own scale without code changes and learn exactly what to fix when the file is wrong.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from rating.phases import Phase

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_SCALE_PATH = DATA_DIR / "dit-competence-scale.v1.yaml"
SCHEMA_PATH = DATA_DIR / "scale.schema.json"

# The phase of a generic item: one rated in every session, whichever phase the session is in.
GENERIC = "all"


class ScaleError(ValueError):
    """A scale file that cannot be used; `problems` lists each thing to fix, naming the item concerned."""

    def __init__(self, path: Path | str, problems: Sequence[str]):
        self.path = str(path)
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"Scale file {path}: {self.problems[0]}"
        else:
            listed = "\n".join(f"- {problem}" for problem in self.problems)
            message = f"Scale file {path} has {len(self.problems)} problems:\n{listed}"
        super().__init__(message)


def as_phase(phase: Phase | str) -> Phase:
    try:
        return Phase(phase)
    except ValueError:
        names = ", ".join(p.value for p in Phase)
        raise ValueError(f"A session's phase is one of {names}, not {phase!r}.") from None


@dataclass(frozen=True)
class CompetenceItem:
    id: str
    phase: str  # "initial", "middle", "ending", or GENERIC
    title: str
    description: str
    anchors: dict[int, str]

    def applies_to(self, phase: Phase | str) -> bool:
        return self.phase in (GENERIC, as_phase(phase).value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "title": self.title,
            "description": self.description,
            "anchors": _keyed_by_text(self.anchors),
        }


@dataclass(frozen=True)
class PassRule:
    """A tape passes when the mean of its item scores reaches `min_mean` and, where `min_item_score`
    is set, no item scores below it."""

    min_mean: float
    min_item_score: int | None = None

    def failures(self, item_scores: Mapping[str, int]) -> tuple[str, ...]:
        """Why a tape with these item scores fails the rule; empty when it passes."""
        if not item_scores:
            return ("no item is scored",)
        reasons = []
        mean = Fraction(sum(item_scores.values()), len(item_scores))
        # Exact fractions, so that a mean exactly at the pass mark passes whatever binary floats make of it.
        if mean < Fraction(str(self.min_mean)):
            reasons.append(f"mean {_shown(mean)} is below {self.min_mean}")
        if self.min_item_score is not None:
            reasons += [
                f"'{item_id}' scored {score} (no item may score below {self.min_item_score})"
                for item_id, score in item_scores.items()
                if score < self.min_item_score
            ]
        return tuple(reasons)


@dataclass(frozen=True)
class Scale:
    id: str
    version: str
    title: str
    source: str
    min_score: int
    max_score: int
    score_labels: dict[int, str]
    pass_rule: PassRule
    items: tuple[CompetenceItem, ...]

    def items_for(self, phase: Phase | str) -> tuple[CompetenceItem, ...]:
        """The items rated in a session of this phase, its own and the generic ones, in the file's
        order: the course that writes the file decides the order of its rating form."""
        return tuple(item for item in self.items if item.applies_to(phase))

    def item(self, item_id: str) -> CompetenceItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"Scale {self.version} has no item {item_id!r}.")

    def to_dict(self, phase: Phase | str | None = None) -> dict[str, Any]:
        """The scale as JSON-ready data in the file's own structure; with `phase`, only the items rated
        in that phase's sessions."""
        items = self.items if phase is None else self.items_for(phase)
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "score_range": {"min": self.min_score, "max": self.max_score},
            "score_labels": _keyed_by_text(self.score_labels),
            "pass_rule": {"min_mean": self.pass_rule.min_mean, "min_item_score": self.pass_rule.min_item_score},
            "items": [item.to_dict() for item in items],
        }


def load_scale(path: Path | str | None = None) -> Scale:
    """Read and check a scale file: the default DIT scale when `path` is None."""
    path = DEFAULT_SCALE_PATH if path is None else Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ScaleError(path, [f"cannot be read ({error.strerror})"]) from error
    try:
        data = yaml.load(raw, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise ScaleError(path, [f"is not valid YAML: {_yaml_problem(error)}"]) from error
    if data is None:
        raise ScaleError(path, ["is empty"])
    if not isinstance(data, dict):
        shape = type(data).__name__
        raise ScaleError(path, [f"should hold a mapping (id: ..., version: ..., items: ...), not a {shape}"])
    try:
        # YAML reads score keys (0:, 6:) as integers and dates as dates; the schema, like JSON, sees text.
        document = json.loads(json.dumps(data, default=str))
    except TypeError as error:
        raise ScaleError(path, [f"has a key that is neither text nor a number ({error})"]) from error
    problems = [_schema_problem(error, document) for error in _validator().iter_errors(document)]
    if not problems:
        problems = _meaning_problems(document)
    if problems:
        raise ScaleError(path, problems)
    return _scale(document)


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, which PyYAML would otherwise settle silently in
    favour of the last: two anchors both typed `4:` would lose one without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(problem=f"the key {key!r} appears twice",
                                                        problem_mark=key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None or problem is None:
        return str(error)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _schema_problem(error: ValidationError, document: Any) -> str:
    message = error.message
    if error.validator == "pattern" and "description" in error.schema:
        # A regular expression means nothing to a course lead; the schema's description says it in words.
        message = f"{error.instance!r} is not allowed: {error.schema['description']}"
    return f"{_where(list(error.absolute_path), document)}: {message}"


def _where(path: list[str | int], document: Any) -> str:
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        item = document["items"][path[1]]
        item_id = item.get("id") if isinstance(item, dict) else None
        name = f"item '{item_id}'" if isinstance(item_id, str) else f"item {path[1] + 1}"
        rest = ".".join(map(str, path[2:]))
        return f"{name}, {rest}" if rest else name
    return ".".join(map(str, path)) or "top level"


def _meaning_problems(document: dict[str, Any]) -> list[str]:
    low, high = document["score_range"]["min"], document["score_range"]["max"]
    if low >= high:
        return [f"score_range: min ({low}) must be below max ({high})"]
    problems = _score_key_problems(
        "score_labels", document["score_labels"], low, high,
        needed=range(low, high + 1), why=f"every score from {low} to {high} needs a label",
    )
    rule = document["pass_rule"]
    if not low <= rule["min_mean"] <= high:
        problems.append(f"pass_rule.min_mean: {rule['min_mean']} is outside the score range {low}-{high}")
    floor = rule.get("min_item_score")
    if floor is not None and not low <= floor <= high:
        problems.append(f"pass_rule.min_item_score: {floor} is outside the score range {low}-{high}")
    items = document["items"]
    for item_id, count in Counter(item["id"] for item in items).items():
        if count > 1:
            problems.append(f"item '{item_id}' appears {count} times; each item needs its own id")
    for item in items:
        problems += _score_key_problems(
            f"item '{item['id']}', anchors", item["anchors"], low, high,
            needed=(low, high), why=f"every item needs anchors for the lowest and highest scores, {low} and {high}",
        )
    for phase in Phase:
        if not any(item["phase"] in (phase.value, GENERIC) for item in items):
            problems.append(f"no item is rated in {phase.value}-phase sessions: "
                            f"add items with phase '{phase.value}' or '{GENERIC}'")
    return problems


def _score_key_problems(where: str, by_score: Mapping[str, str], low: int, high: int,
                        needed: Iterable[int], why: str) -> list[str]:
    scores = sorted(int(key) for key in by_score)
    problems = [f"{where}: {score} is outside the score range {low}-{high}"
                for score in scores if not low <= score <= high]
    missing = [str(score) for score in needed if score not in scores]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)} ({why})")
    return problems


def _scale(document: dict[str, Any]) -> Scale:
    rule = document["pass_rule"]
    return Scale(
        id=document["id"],
        version=document["version"],
        title=document["title"],
        source=document["source"],
        min_score=document["score_range"]["min"],
        max_score=document["score_range"]["max"],
        score_labels=_keyed_by_score(document["score_labels"]),
        pass_rule=PassRule(min_mean=float(rule["min_mean"]), min_item_score=rule.get("min_item_score")),
        items=tuple(
            CompetenceItem(
                id=item["id"],
                phase=item["phase"],
                title=item["title"],
                description=item["description"],
                anchors=_keyed_by_score(item["anchors"]),
            )
            for item in document["items"]
        ),
    )


def _keyed_by_score(by_text: Mapping[str, str]) -> dict[int, str]:
    return dict(sorted((int(score), text) for score, text in by_text.items()))


def _keyed_by_text(by_score: Mapping[int, str]) -> dict[str, str]:
    return {str(score): text for score, text in sorted(by_score.items())}


def _shown(mean: Fraction) -> str:
    """A mean cut (not rounded) to two decimals, so that one just short of the pass mark never shows
    as the pass mark itself."""
    text = f"{math.floor(mean * 100) / 100:.2f}"
    return text.removesuffix("0")
