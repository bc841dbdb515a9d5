"""Calibration tapes: every supervisor whose accreditation is current rates the tape, blind until all
are in, and the course's agreed reference scores (when given) are what each rater is compared with.
Blindness needs nothing here: no rater sees another's scores until every assigned rater is in."""

from __future__ import annotations

from rating.scale import Scale
from rating.scoring import RatingError, validate_scores
from server import access
from server.config import Settings
from server.errors import Invalid, Unprocessable
from server.models import Assignment, Rating, RatingKind, RatingStatus, Recording, User
from server.services.assignments import assigned_ids, current_supervisors


def check_reference_scores(scale: Scale, phase: str, scores) -> dict[str, int] | None:
    """The reference scores to keep (None for none), or 422 with each item's problem."""
    if scores is None:
        return None
    if not isinstance(scores, dict):
        raise Invalid("'reference_scores' must be an object mapping item ids to scores.")
    try:
        validate_scores(scale, phase, scores, complete=False)
    except RatingError as exc:
        raise Unprocessable(f"The reference scores do not fit this session's form: {exc}", exc.errors) from exc
    kept = {item.id: scores[item.id] for item in scale.items_for(phase) if scores.get(item.id) is not None}
    return kept or None


async def mark_calibration(user: User, recording: Recording, reference_scores, settings: Settings,
                           scale: Scale, *, replace_reference: bool = True) -> list[User]:
    """Make the recording a calibration tape (with its reference scores, when given) and assign it to
    every supervisor whose accreditation is current and who is not yet assigned. Returns those assigned."""
    access.require_lead(user)
    phase = recording.session.phase.value
    reference = check_reference_scores(scale, phase, reference_scores)
    recording.is_calibration = True
    update = {"is_calibration": True}
    if replace_reference:
        recording.reference_scores = update["reference_scores"] = reference
    await Recording.filter(id=recording.id).update(**update)
    to_assign = await current_supervisors(
        settings, exclude=await assigned_ids(recording) | {recording.session.case.trainee_id})
    added = sorted(to_assign, key=lambda supervisor: supervisor.username)
    for supervisor in added:
        await Assignment.create(recording=recording, supervisor=supervisor, assigned_by=user)
    return added


async def submitted_rater_ids(recording: Recording) -> set[int]:
    return set(await Rating.filter(recording=recording, kind=RatingKind.INDIVIDUAL,
                                   status=RatingStatus.SUBMITTED).values_list("rater_id", flat=True))


async def calibration_tapes() -> list[dict]:
    """The twenty newest calibration tapes, with how many of their raters have submitted."""
    tapes = []
    calibration = Recording.filter(is_calibration=True).select_related("session__case").order_by("-id").limit(20)
    for recording in await calibration:
        assigned = await Assignment.filter(recording=recording).count()
        submitted = await Rating.filter(recording=recording, kind=RatingKind.INDIVIDUAL,
                                        status=RatingStatus.SUBMITTED).count()
        tapes.append({"id": recording.id, "case": recording.session.case.code, "session": recording.session.number,
                      "assigned": assigned, "submitted": submitted, "has_reference": bool(recording.reference_scores)})
    return tapes
