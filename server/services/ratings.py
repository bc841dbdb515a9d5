"""Competence rating: drafts, submission, the blind comparison of double ratings, adjudication,
release of the official result, reopening, and the export.

Blindness: a rater sees only their own rating until every assigned rater has submitted
(`access.ratings_shown` decides). The trainee sees the official result (the consensus, or the only
rating) once a course lead releases it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from tortoise.transactions import in_transaction

from rating.scale import Scale
from rating.scoring import RatingError, score_rating, validate_scores
from server import access
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Invalid, NotFound, Unprocessable
from server.models import (
    Assignment,
    NotificationKind,
    Rating,
    RatingAction,
    RatingEvent,
    RatingKind,
    RatingStatus,
    Recording,
    User,
)
from server.services import notifications
from server.services.assignments import assigned_ids
from server.services.transcripts import segment_count


async def individual_ratings(recording: Recording) -> list[Rating]:
    return await Rating.filter(recording=recording, kind=RatingKind.INDIVIDUAL).select_related("rater").order_by("id")


async def all_submitted(recording: Recording) -> bool:
    raters = await assigned_ids(recording)
    submitted = {
        r.rater_id for r in await individual_ratings(recording) if r.status == RatingStatus.SUBMITTED
    }
    return bool(raters) and raters <= submitted


async def official_rating(recording: Recording) -> Rating | None:
    """The tape's result: the submitted consensus, or the one submitted rating of a single-rated tape."""
    return (await official_ratings([recording.id])).get(recording.id)


async def official_ratings(recording_ids: Iterable[int]) -> dict[int, Rating]:
    """`official_rating` of each of many tapes that has one, by recording, in two queries whatever their number."""
    ids = list(recording_ids)
    if not ids:
        return {}
    raters: dict[int, set[int]] = defaultdict(set)
    for recording_id, supervisor_id in await Assignment.filter(recording_id__in=ids).values_list(
            "recording_id", "supervisor_id"):
        raters[recording_id].add(supervisor_id)
    official: dict[int, Rating] = {}
    individual: dict[int, list[Rating]] = defaultdict(list)
    for rating in await Rating.filter(recording_id__in=ids, status=RatingStatus.SUBMITTED).select_related(
            "rater").order_by("id"):
        if rating.kind == RatingKind.CONSENSUS:
            official[rating.recording_id] = rating
        else:
            individual[rating.recording_id].append(rating)
    for recording_id, submitted in individual.items():
        if recording_id not in official and len(submitted) == 1 and len(raters[recording_id]) == 1:
            official[recording_id] = submitted[0]
    return official


def rating_json(rating: Rating, scale: Scale, *, rater_label: str | None = None) -> dict:
    return {
        "id": rating.id,
        "recording": rating.recording_id,
        "rater": rater_label or rating.rater.username,
        "kind": rating.kind.value,
        "status": rating.status.value,
        "scale_version": rating.scale_version,
        "phase": rating.phase.value,
        "scores": rating.scores,
        "comments": rating.comments,
        "evidence": rating.evidence,
        "overall_comment": rating.overall_comment,
        "total": rating.total,
        "mean": None if rating.mean is None else round(rating.mean, 2),
        "passed": rating.passed,
        "reasons": rating.reasons,
        "updated_at": rating.updated_at.isoformat(),
        "submitted_at": rating.submitted_at.isoformat() if rating.submitted_at else None,
    }


def comparison(ratings: list[Rating], scale: Scale, labels: dict[int, str]) -> list[dict]:
    """Item by item, each rater's score and whether they differ."""
    if not ratings:
        return []
    rows = []
    for item in scale.items_for(ratings[0].phase):
        scores = {labels[r.id]: r.scores.get(item.id) for r in ratings}
        values = {v for v in scores.values() if v is not None}
        rows.append({"item": item.id, "title": item.title, "scores": scores, "differs": len(values) > 1,
                     "spread": (max(values) - min(values)) if values else None})
    return rows


# --- the form's input -------------------------------------------------------------------------


def parse_rating_body(body: dict, scale: Scale, phase: str, segment_count: int | None) -> dict:
    """Turn a draft's JSON into clean fields, refusing what cannot be saved (item by item)."""
    scores = body.get("scores", {})
    if not isinstance(scores, dict):
        raise Invalid("'scores' must be an object mapping item ids to scores.")
    try:
        validate_scores(scale, phase, scores, complete=False)
    except RatingError as exc:
        raise Unprocessable(str(exc), exc.errors) from exc
    comments = body.get("comments", {})
    evidence = body.get("evidence", {})
    if not isinstance(comments, dict) or not all(isinstance(v, str) for v in comments.values()):
        raise Invalid("'comments' must map item ids to text.")
    if not isinstance(evidence, dict):
        raise Invalid("'evidence' must map item ids to lists of transcript segment numbers.")
    phase_items = {item.id for item in scale.items_for(phase)}
    for field_name, values in (("comments", comments), ("evidence", evidence)):
        unknown = set(values) - phase_items
        if unknown:
            raise Unprocessable(f"'{field_name}' names items that are not on this phase's form: {', '.join(sorted(unknown))}.",
                                {item: "Not on this form." for item in unknown})
    for item_id, indexes in evidence.items():
        if not isinstance(indexes, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
            raise Unprocessable("Evidence is a list of transcript segment numbers.", {item_id: "Evidence must be segment numbers."})
        if segment_count is not None and any(not 0 <= i < segment_count for i in indexes):
            raise Unprocessable(f"Evidence for '{item_id}' points at a segment the transcript does not have.",
                                {item_id: "No such transcript segment."})
    overall = body.get("overall_comment", "")
    if not isinstance(overall, str):
        raise Invalid("'overall_comment' must be text.")
    return {
        "scores": {k: v for k, v in scores.items() if v is not None},
        "comments": {k: v for k, v in comments.items() if v.strip()},
        "evidence": {k: sorted(set(v)) for k, v in evidence.items() if v},
        "overall_comment": overall,
    }


async def my_rating(user: User, recording: Recording, scale: Scale) -> Rating:
    rating, _ = await Rating.get_or_create(
        recording=recording, rater=user, kind=RatingKind.INDIVIDUAL,
        defaults={"scale_version": scale.version, "phase": recording.session.phase},
    )
    rating.rater = user
    return rating


def check_editable(rating: Rating, scale: Scale) -> None:
    if rating.status == RatingStatus.SUBMITTED:
        raise Conflict("This rating has been submitted and is locked; a course lead can reopen it.")
    if rating.scale_version != scale.version:
        raise Conflict(f"This rating was started on scale {rating.scale_version}, "
                       f"but the scale in use is {scale.version}.")


async def save_draft(user: User, recording: Recording, body: dict, scale: Scale, settings: Settings) -> Rating:
    access.require_may_rate(user, settings)
    rating = await my_rating(user, recording, scale)
    check_editable(rating, scale)
    fields = parse_rating_body(body, scale, rating.phase, await segment_count(settings, recording))
    for name, value in fields.items():
        setattr(rating, name, value)
    await rating.save()
    return rating


async def submit(user: User, rating: Rating, scale: Scale) -> Rating:
    check_editable(rating, scale)
    try:
        validate_scores(scale, rating.phase, rating.scores, complete=True)
    except RatingError as exc:
        raise Unprocessable(str(exc), exc.errors) from exc
    result = score_rating(scale, rating.phase, rating.scores)
    async with in_transaction():
        locked = await Rating.filter(id=rating.id, status=RatingStatus.DRAFT).update(
            status=RatingStatus.SUBMITTED, total=result.total, mean=result.mean, passed=result.passed,
            reasons=list(result.reasons), submitted_at=now(),
        )
        if not locked:
            raise Conflict("This rating has already been submitted.")
        await RatingEvent.create(rating=rating, actor=user, action=RatingAction.SUBMITTED)
    await rating.refresh_from_db()
    return rating


async def submit_mine(user: User, recording: Recording, scale: Scale, settings: Settings) -> Rating:
    access.require_may_rate(user, settings)
    rating = await Rating.get_or_none(recording=recording, rater=user, kind=RatingKind.INDIVIDUAL)
    if rating is None:
        raise Conflict("There is no draft to submit: save your scores first.")
    rating.rater = user
    rating = await submit(user, rating, scale)
    raters = await assigned_ids(recording)
    if len(raters) > 1 and not recording.is_calibration and await all_submitted(recording):
        adjudicator = await User.get_or_none(id=recording.adjudicator_id) if recording.adjudicator_id else None
        await notifications.notify(settings, [adjudicator] if adjudicator else await notifications.course_leads(),
                                   NotificationKind.ADJUDICATION_NEEDED, f"/recordings/{recording.id}/ratings")
        notifications.schedule(settings)
    return rating


async def visible_ratings(user: User, recording: Recording, scale: Scale, settings: Settings) -> dict:
    """What this user may see of a recording's ratings, with the item-by-item comparison once all are in."""
    raters = await assigned_ids(recording)
    everyone_in = await all_submitted(recording)
    individual = await individual_ratings(recording)
    consensus = await Rating.get_or_none(recording=recording, kind=RatingKind.CONSENSUS).select_related("rater")
    official = await official_rating(recording)
    anonymise = access.anonymise_raters_for(user, settings)
    labels = {r.id: (f"Rater {i}" if anonymise else r.rater.username) for i, r in enumerate(individual, 1)}
    if consensus is not None:
        labels[consensus.id] = "Consensus"
    shown = await access.ratings_shown(user, recording, raters=raters, everyone_in=everyone_in, individual=individual,
                                       consensus=consensus, official=official)
    visible_individual = [r for r in shown if r.kind == RatingKind.INDIVIDUAL and r.status == RatingStatus.SUBMITTED]
    cards = [rating_json(r, scale, rater_label=labels[r.id]) for r in shown]
    official_id = official.id if official and official in shown else None
    released = recording.feedback_released_at is not None
    if access.sees_released_result_only(user, recording, raters) and recording.released_result:
        # As it was released: a reopened rating being revised, or a new result not yet released, stays unseen.
        cards = [recording.released_result] if released else []
        official_id = recording.released_result["id"] if released else None
    return {
        "recording": recording.id,
        "raters": len(raters),
        "all_submitted": everyone_in,
        "released": released,
        "withdrawn_reason": "" if released else recording.withdrawn_reason,
        "official": official_id,
        "ratings": cards,
        "comparison": comparison(visible_individual, scale, labels) if everyone_in and len(visible_individual) > 1 else [],
    }


KEEP, WITHDRAW = "keep", "withdraw"
OFFICIAL_LABEL = "Official result"


async def reopen(user: User, rating_id: int, reason: str, scale: Scale, settings: Settings,
                 released: str | None = None, withdrawn_reason: str = "") -> Rating:
    """A submitted rating back to draft, with the reason kept (the rater is shown it). When its tape's
    result has been released, the lead says what the trainee sees meanwhile: `released` KEEP, the
    released result until a new one is released; WITHDRAW, nothing, with `withdrawn_reason` shown instead."""
    access.require_lead(user)
    rating = (await Rating.get_or_none(id=rating_id).select_related("rater", "recording")
              if access.possible_id(rating_id) else None)
    if rating is None:
        raise NotFound("No such rating.")
    reason, withdrawn_reason = reason.strip(), (withdrawn_reason or "").strip()
    if not reason:
        raise Invalid("Say why the rating is reopened: 'reason' is required.")
    if rating.status != RatingStatus.SUBMITTED:
        raise Conflict("Only a submitted rating can be reopened.")
    is_released = rating.recording.feedback_released_at is not None
    if is_released and released not in (KEEP, WITHDRAW):
        raise Invalid("This tape's result has been released. Say whether the trainee keeps seeing it until a new "
                      "one is released ('released': 'keep') or it is withdrawn ('released': 'withdraw', with "
                      "'withdrawn_reason', which the trainee sees).")
    if is_released and released == WITHDRAW and not withdrawn_reason:
        raise Invalid("Say why the released result is withdrawn: the trainee sees 'withdrawn_reason'.")
    history = reason if not is_released else (
        f"{reason} (the released result is kept until a new one is released)" if released == KEEP
        else f"{reason} (the released result is withdrawn: {withdrawn_reason})")
    if is_released and released == KEEP and not rating.recording.released_result:
        # Released before results were kept as released: keep the one shown now, before it is reopened.
        official = await official_rating(rating.recording)
        if official is not None:
            await Recording.filter(id=rating.recording_id).update(
                released_result=rating_json(official, scale, rater_label=OFFICIAL_LABEL))
    async with in_transaction():
        reopened = await Rating.filter(id=rating.id, status=RatingStatus.SUBMITTED).update(
            status=RatingStatus.DRAFT, total=None, mean=None, passed=None, reasons=[], submitted_at=None)
        if not reopened:
            raise Conflict("Only a submitted rating can be reopened.")
        await RatingEvent.create(rating=rating, actor=user, action=RatingAction.REOPENED, reason=history)
        if is_released and released == WITHDRAW:
            await Recording.filter(id=rating.recording_id).update(feedback_released_at=None, released_result=None,
                                                                  withdrawn_reason=withdrawn_reason)
        await notifications.notify(settings, [rating.rater], NotificationKind.REOPENED,
                                   f"/recordings/{rating.recording_id}/rate")
    notifications.schedule(settings)
    await rating.refresh_from_db()
    return rating


async def release(user: User, recording: Recording, scale: Scale, settings: Settings) -> Rating:
    """Release the official result to the trainee, keeping it as they are shown it; returns it."""
    access.require_lead(user)
    official = await official_rating(recording)
    if official is None:
        raise Conflict("There is no result to release yet: every rater must submit, and a "
                       "double-rated tape needs a consensus rating.")
    async with in_transaction():
        await Recording.filter(id=recording.id).update(
            feedback_released_at=now(), withdrawn_reason="",
            released_result=rating_json(official, scale, rater_label=OFFICIAL_LABEL))
        await RatingEvent.create(rating=official, actor=user, action=RatingAction.RELEASED)
        trainee = await User.get(id=recording.session.case.trainee_id)
        await notifications.notify(settings, [trainee], NotificationKind.RELEASED, f"/recordings/{recording.id}/ratings")
    notifications.schedule(settings)
    return official


async def consensus(user: User, recording: Recording, scale: Scale, settings: Settings,
                    body: dict | None = None) -> Rating:
    """The adjudicated consensus of a double-rated tape, begun from the items the raters agreed on;
    `body`, when given, is saved into the draft."""
    access.require_adjudicator(user, recording)
    individual = [r for r in await individual_ratings(recording) if r.status == RatingStatus.SUBMITTED]
    if not await all_submitted(recording) or len(individual) < 2:
        raise Conflict("Adjudication starts when at least two assigned raters have all submitted.")
    agreed = {}
    for item in scale.items_for(individual[0].phase):
        values = {r.scores.get(item.id) for r in individual}
        if len(values) == 1:
            agreed[item.id] = values.pop()
    rating, _ = await Rating.get_or_create(
        recording=recording, kind=RatingKind.CONSENSUS,
        defaults={"rater": user, "scale_version": scale.version, "phase": individual[0].phase, "scores": agreed,
                  "evidence": pooled_evidence(individual)},
    )
    await rating.fetch_related("rater")
    if body is not None:
        check_editable(rating, scale)
        fields = parse_rating_body(body, scale, rating.phase, await segment_count(settings, recording))
        for name, value in fields.items():
            setattr(rating, name, value)
        rating.rater = user
        await rating.save()
    return rating


def pooled_evidence(ratings) -> dict[str, list[int]]:
    """Every line any rater cited, per item: where a consensus starts, so that the released feedback
    plays its moments (the adjudicator removes what does not belong)."""
    pooled: dict[str, set[int]] = {}
    for rating in ratings:
        evidence = rating["evidence"] if isinstance(rating, dict) else rating.evidence
        for item, lines in (evidence or {}).items():
            pooled.setdefault(item, set()).update(lines)
    return {item: sorted(lines) for item, lines in pooled.items()}


async def submit_consensus(user: User, recording: Recording, scale: Scale) -> Rating:
    """The consensus becomes the tape's official result; the original ratings are kept."""
    access.require_adjudicator(user, recording)
    rating = await Rating.get_or_none(recording=recording, kind=RatingKind.CONSENSUS).select_related("rater")
    if rating is None:
        raise Conflict("Start the consensus rating first (GET or PUT it).")
    return await submit(user, rating, scale)


EXPORT_COLUMNS = ["recording", "case", "session", "item", "rater", "kind", "score", "phase", "scale_version", "submitted_at"]


async def export_rows(user: User) -> list[dict]:
    """Every submitted rating in long format, one row per item (course leads)."""
    access.require_lead(user)
    rows = []
    ratings = await Rating.filter(status=RatingStatus.SUBMITTED).select_related(
        "rater", "recording__session__case").order_by("recording_id", "id")
    for rating in ratings:
        for item_id, score in rating.scores.items():
            rows.append({
                "recording": rating.recording_id,
                "case": rating.recording.session.case.code,
                "session": rating.recording.session.number,
                "item": item_id,
                "rater": rating.rater.username,
                "kind": rating.kind.value,
                "score": score,
                "phase": rating.phase.value,
                "scale_version": rating.scale_version,
                "submitted_at": rating.submitted_at.isoformat(),
            })
    return rows
