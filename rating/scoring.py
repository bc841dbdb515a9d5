"""Checking a rater's item scores against the scale, and scoring a rated tape by the scale's pass rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rating.phases import Phase
from rating.scale import Scale, as_phase


class RatingError(ValueError):
    """Scores that cannot be saved. `errors` holds each item's problem by item id, to show beside the item."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None):
        super().__init__(message)
        self.errors = dict(errors or {})


@dataclass(frozen=True)
class RatingResult:
    item_scores: dict[str, int]  # the scored items, in the order of the rating form
    n_items: int
    total: int
    mean: float | None  # None when no item is scored
    passed: bool
    reasons: tuple[str, ...]  # why it failed; empty when it passed
    scale_version: str


def validate_scores(scale: Scale, phase: Phase | str, scores: Mapping[str, int | None], *, complete: bool) -> None:
    """Refuse scores that do not fit the scale and the session's phase. A draft (`complete=False`) may
    leave items unscored, as None or absent; a submitted rating (`complete=True`) must score every item
    of the phase."""
    phase = as_phase(phase)
    if not isinstance(scores, Mapping):
        raise RatingError("Scores must map each item id to a score.")
    items = {item.id: item for item in scale.items}
    errors: dict[str, str] = {}
    for item_id, score in scores.items():
        item = items.get(item_id)
        if item is None:
            errors[str(item_id)] = f"'{item_id}' is not an item of the scale {scale.version}."
        elif not item.applies_to(phase):
            errors[item_id] = (f"'{item_id}' belongs to the {item.phase} phase; "
                               f"this session is in the {phase.value} phase.")
        elif score is None:
            continue
        elif isinstance(score, bool) or not isinstance(score, int):
            errors[item_id] = f"Score {score!r} for '{item_id}' is not a whole number."
        elif not scale.min_score <= score <= scale.max_score:
            errors[item_id] = f"Score {score} for '{item_id}' is outside {scale.min_score}-{scale.max_score}."
    messages = list(errors.values())
    if complete:
        missing = [item.id for item in scale.items_for(phase) if scores.get(item.id) is None]
        if missing:
            messages.append(f"Score every item before submitting: {len(missing)} not scored: {', '.join(missing)}.")
            errors.update((item_id, "Not scored.") for item_id in missing)
    if messages:
        raise RatingError(" ".join(messages), errors)


def score_rating(scale: Scale, phase: Phase | str, scores: Mapping[str, int | None]) -> RatingResult:
    """Total, mean and pass or fail over the items scored. Unscored items are left out, so a draft's
    result is provisional; check a submission with `validate_scores(..., complete=True)` first."""
    validate_scores(scale, phase, scores, complete=False)
    item_scores = {item.id: scores[item.id] for item in scale.items_for(phase) if scores.get(item.id) is not None}
    total = sum(item_scores.values())
    reasons = scale.pass_rule.failures(item_scores)
    return RatingResult(
        item_scores=item_scores,
        n_items=len(item_scores),
        total=total,
        mean=total / len(item_scores) if item_scores else None,
        passed=not reasons,
        reasons=reasons,
        scale_version=scale.version,
    )
