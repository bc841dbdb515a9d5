"""Competence rating: assignment, drafts, submission, blind double rating, adjudication, release, export.

Blindness: a rater sees only their own rating until every assigned rater has submitted.
The trainee sees the official result (the consensus, or the only rating) once a course lead releases it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime, timezone

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from rating.phases import phase_of
from rating.scale import Scale
from rating.scoring import RatingError, score_rating, validate_scores
from server import access
from server.api import api_user, json_body
from server.config import Settings
from server.models import (
    Assignment,
    Rating,
    RatingEvent,
    RatingKind,
    RatingStatus,
    Recording,
    Role,
    Transcript,
    User,
)
from server.speakers import quality_flag
from server.views import recording_json


def now() -> datetime:
    return datetime.now(timezone.utc)


def accreditation_is_current(user: User, settings: Settings, today: date | None = None) -> bool:
    """Accredited, with an accreditation date no older than the configured number of years."""
    today = today or date.today()
    if user.role != Role.SUPERVISOR or not user.accredited or user.accredited_on is None:
        return False
    try:
        expires = user.accredited_on.replace(year=user.accredited_on.year + settings.accreditation_years)
    except ValueError:  # 29 February
        expires = user.accredited_on.replace(year=user.accredited_on.year + settings.accreditation_years, day=28)
    return user.accredited_on <= today < expires


def require_lead(user: User) -> None:
    if not user.sees_everything:
        raise HTTPException(403, "Only a course lead or an admin can do this.")


def may_adjudicate(user: User, recording: Recording) -> bool:
    return user.sees_everything or recording.adjudicator_id == user.id


def require_adjudicator(user: User, recording: Recording) -> None:
    if not may_adjudicate(user, recording):
        raise HTTPException(403, "Only a course lead, an admin or the senior supervisor named for this tape adjudicates.")


async def assigned_ids(recording: Recording) -> set[int]:
    return set(await Assignment.filter(recording=recording).values_list("supervisor_id", flat=True))


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
    consensus = await Rating.get_or_none(
        recording=recording, kind=RatingKind.CONSENSUS, status=RatingStatus.SUBMITTED
    ).select_related("rater")
    if consensus is not None:
        return consensus
    submitted = [r for r in await individual_ratings(recording) if r.status == RatingStatus.SUBMITTED]
    if len(submitted) == 1 and len(await assigned_ids(recording)) == 1:
        return submitted[0]
    return None


def rating_json(rating: Rating, scale: Scale, *, rater_label: str | None = None) -> dict:
    return {
        "id": rating.id,
        "recording": rating.recording_id,
        "rater": rater_label or rating.rater.username,
        "kind": rating.kind.value,
        "status": rating.status.value,
        "scale_version": rating.scale_version,
        "phase": rating.phase,
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
        raise HTTPException(400, "'scores' must be an object mapping item ids to scores.")
    try:
        validate_scores(scale, phase, scores, complete=False)
    except RatingError as exc:
        raise RatingProblem(str(exc), exc.errors) from exc
    comments = body.get("comments", {})
    evidence = body.get("evidence", {})
    if not isinstance(comments, dict) or not all(isinstance(v, str) for v in comments.values()):
        raise HTTPException(400, "'comments' must map item ids to text.")
    if not isinstance(evidence, dict):
        raise HTTPException(400, "'evidence' must map item ids to lists of transcript segment numbers.")
    phase_items = {item.id for item in scale.items_for(phase)}
    for field_name, values in (("comments", comments), ("evidence", evidence)):
        unknown = set(values) - phase_items
        if unknown:
            raise RatingProblem(f"'{field_name}' names items that are not on this phase's form: {', '.join(sorted(unknown))}.",
                                {item: "Not on this form." for item in unknown})
    for item_id, indexes in evidence.items():
        if not isinstance(indexes, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
            raise RatingProblem("Evidence is a list of transcript segment numbers.", {item_id: "Evidence must be segment numbers."})
        if segment_count is not None and any(not 0 <= i < segment_count for i in indexes):
            raise RatingProblem(f"Evidence for '{item_id}' points at a segment the transcript does not have.",
                                {item_id: "No such transcript segment."})
    overall = body.get("overall_comment", "")
    if not isinstance(overall, str):
        raise HTTPException(400, "'overall_comment' must be text.")
    return {
        "scores": {k: v for k, v in scores.items() if v is not None},
        "comments": {k: v for k, v in comments.items() if v.strip()},
        "evidence": {k: sorted(set(v)) for k, v in evidence.items() if v},
        "overall_comment": overall,
    }


class RatingProblem(HTTPException):
    """422 with each item's problem, so the form can show it beside the item."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(422, message)
        self.errors = errors


async def segment_count(recording: Recording) -> int | None:
    transcript = await Transcript.get_or_none(recording_id=recording.id)
    return len(transcript.data.get("segments", [])) if transcript else None


# --- handlers --------------------------------------------------------------------------------


async def get_scale(request: Request) -> JSONResponse:
    """
    summary: The competence scale in use (all items, or one phase's form with ?phase=initial|middle|ending).
    responses:
      200: {description: "{id, version, score_range, pass_rule, items: [...]}"}
    """
    api_user(request)
    phase = request.query_params.get("phase")
    if phase not in (None, "initial", "middle", "ending"):
        raise HTTPException(400, "phase is one of initial, middle, ending.")
    return JSONResponse(request.app.state.scale.to_dict(phase))


async def post_assignment(request: Request) -> JSONResponse:
    """
    summary: Assign a recording to an accredited supervisor for rating (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [supervisor], properties: {supervisor: {type: string}}}
    responses:
      201: {description: "The assignment: {recording, supervisor, second_rater}; second_rater names the supervisor added for blind double rating, or is null."}
      400: {description: Not a supervisor, not accredited, or the recording's own trainee.}
      409: {description: Already assigned to that supervisor.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    body = await json_body(request)
    supervisor, second = await assign(user, recording, str(body.get("supervisor", "")), request.app.state.settings)
    return JSONResponse({"recording": recording.id, "supervisor": supervisor.username,
                         "second_rater": second.username if second else None}, status_code=201)


async def assign(user: User, recording: Recording, username: str, settings: Settings) -> tuple[User, User | None]:
    """Assign the recording to `username`; returns that supervisor and the second rater added for blind
    double rating (`add_second_rater`), or None. The API and the recording page's form both come here."""
    supervisor = await User.get_or_none(username=username, is_active=True)
    if supervisor is None or supervisor.role != Role.SUPERVISOR:
        raise HTTPException(400, f"'{username}' is not a supervisor.")
    if not accreditation_is_current(supervisor, settings):
        raise HTTPException(400, f"{supervisor.name}'s DIT supervisor accreditation is not current.")
    if supervisor.id == recording.session.case.trainee_id:
        raise HTTPException(400, "Nobody rates their own recording.")
    if await Assignment.exists(recording=recording, supervisor=supervisor):
        raise HTTPException(409, f"The recording is already assigned to {supervisor.name}.")
    if supervisor.id == recording.adjudicator_id:
        raise HTTPException(400, f"{supervisor.name} adjudicates this tape, so cannot also rate it.")
    await Assignment.create(recording=recording, supervisor=supervisor, assigned_by=user)
    return supervisor, await add_second_rater(user, recording, supervisor, settings)


def chosen_for_double_rating(recording_id: int, share: float) -> bool:
    """Whether an ordinary tape gets a second, blind rater: the first byte of the SHA-256 of its id is
    below `share` x 256. Reproducible and auditable (anyone can recompute it), and about `share` of
    all tapes: 0 picks none, 1 picks every one."""
    return hashlib.sha256(str(recording_id).encode()).digest()[0] < share * 256


async def add_second_rater(user: User, recording: Recording, first: User, settings: Settings) -> User | None:
    """On an ordinary tape's first assignment, when the tape is chosen for double rating, assign a second
    accredited supervisor: not the first rater nor the trainee, the one with the fewest open assignments
    (not yet submitted), ties broken by username. Returns them, or None."""
    if recording.is_calibration or not chosen_for_double_rating(recording.id, settings.double_rating_share):
        return None
    if await Assignment.filter(recording=recording).count() != 1:
        return None
    candidates = [
        s for s in await User.filter(role=Role.SUPERVISOR, is_active=True)
        if accreditation_is_current(s, settings) and s.id not in (first.id, recording.session.case.trainee_id)
    ]
    if not candidates:
        return None
    ids = [s.id for s in candidates]
    submitted = set(await Rating.filter(rater_id__in=ids, kind=RatingKind.INDIVIDUAL, status=RatingStatus.SUBMITTED)
                    .values_list("recording_id", "rater_id"))
    open_counts = dict.fromkeys(ids, 0)
    for recording_id, supervisor_id in await Assignment.filter(supervisor_id__in=ids).values_list(
            "recording_id", "supervisor_id"):
        if (recording_id, supervisor_id) not in submitted:
            open_counts[supervisor_id] += 1
    second = min(candidates, key=lambda s: (open_counts[s.id], s.username))
    await Assignment.create(recording=recording, supervisor=second, assigned_by=user)
    return second


async def get_queue(request: Request) -> JSONResponse:
    """
    summary: What awaits the calling supervisor's rating, oldest assignment first.
    responses:
      200: {description: "{queue: [{recording, case, session, phase, duration, status, my_rating}]}"}
    """
    user = api_user(request)
    return JSONResponse({"queue": await queue_for(user)})


async def queue_for(user: User) -> list[dict]:
    assignments = await Assignment.filter(supervisor=user).select_related("recording__session__case").order_by("created_at", "id")
    queue = []
    for assignment in assignments:
        recording = assignment.recording
        mine = await Rating.get_or_none(recording=recording, rater=user, kind=RatingKind.INDIVIDUAL)
        if mine is not None and mine.status == RatingStatus.SUBMITTED:
            continue
        queue.append({
            **await recording_json(recording),
            "quality_flag": await quality_flag(recording.id),
            "case_code": recording.session.case.code,
            "assigned_at": assignment.created_at.isoformat(),
            "my_rating": mine.status.value if mine else None,
        })
    return queue


async def rateable_recording(user: User, recording_id: int) -> Recording:
    """The recording, if this user is assigned to rate it."""
    recording = await Recording.get_or_none(id=recording_id).select_related("session__case__trainee")
    if recording is None or not await Assignment.exists(recording=recording, supervisor=user):
        if recording is not None and await access.can_read_trainee(user, recording.session.case.trainee_id):
            raise HTTPException(403, "You are not assigned to rate this recording.")
        raise HTTPException(404, "No such recording.")
    return recording


async def my_rating(user: User, recording: Recording, scale: Scale) -> Rating:
    rating, _ = await Rating.get_or_create(
        recording=recording, rater=user, kind=RatingKind.INDIVIDUAL,
        defaults={"scale_version": scale.version, "phase": phase_of(recording.session.number).value},
    )
    rating.rater = user
    return rating


async def get_mine(request: Request) -> JSONResponse:
    """
    summary: The caller's rating of this recording (a new, empty draft the first time).
    responses:
      200: {description: The rating.}
      403: {description: Not assigned to this recording.}
    """
    user = api_user(request)
    recording = await rateable_recording(user, request.path_params["recording_id"])
    scale = request.app.state.scale
    return JSONResponse(rating_json(await my_rating(user, recording, scale), scale))


async def save_draft(user: User, recording: Recording, body: dict, scale: Scale, settings: Settings) -> Rating:
    if not accreditation_is_current(user, settings):
        raise HTTPException(403, "Only a supervisor whose DIT accreditation is current can rate.")
    rating = await my_rating(user, recording, scale)
    check_editable(rating, scale)
    fields = parse_rating_body(body, scale, rating.phase, await segment_count(recording))
    for name, value in fields.items():
        setattr(rating, name, value)
    await rating.save()
    return rating


def check_editable(rating: Rating, scale: Scale) -> None:
    if rating.status == RatingStatus.SUBMITTED:
        raise HTTPException(409, "This rating has been submitted and is locked; a course lead can reopen it.")
    if rating.scale_version != scale.version:
        raise HTTPException(409, f"This rating was started on scale {rating.scale_version}, "
                                 f"but the scale in use is {scale.version}.")


async def put_mine(request: Request) -> JSONResponse:
    """
    summary: Save the caller's draft (scores, comments, evidence); unscored items may be null.
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {scores: {type: object}, comments: {type: object}, evidence: {type: object}, overall_comment: {type: string}}}
    responses:
      200: {description: The saved draft.}
      409: {description: Already submitted.}
      422: {description: "A score out of range, an unknown item or one from another phase: {error, errors: {item: problem}}"}
    """
    user = api_user(request)
    recording = await rateable_recording(user, request.path_params["recording_id"])
    scale = request.app.state.scale
    rating = await save_draft(user, recording, await json_body(request), scale, request.app.state.settings)
    return JSONResponse(rating_json(rating, scale))


async def submit(user: User, rating: Rating, scale: Scale) -> Rating:
    check_editable(rating, scale)
    try:
        validate_scores(scale, rating.phase, rating.scores, complete=True)
    except RatingError as exc:
        raise RatingProblem(str(exc), exc.errors) from exc
    result = score_rating(scale, rating.phase, rating.scores)
    async with in_transaction():
        locked = await Rating.filter(id=rating.id, status=RatingStatus.DRAFT).update(
            status=RatingStatus.SUBMITTED, total=result.total, mean=result.mean, passed=result.passed,
            reasons=list(result.reasons), submitted_at=now(),
        )
        if not locked:
            raise HTTPException(409, "This rating has already been submitted.")
        await RatingEvent.create(rating=rating, actor=user, action="submitted")
    await rating.refresh_from_db()
    return rating


async def submit_mine(request: Request) -> JSONResponse:
    """
    summary: Submit the caller's rating; every item must be scored. The rating is then locked.
    responses:
      200: {description: The submitted rating with total, mean and pass/fail.}
      409: {description: Already submitted.}
      422: {description: Items not scored or invalid.}
    """
    user = api_user(request)
    recording = await rateable_recording(user, request.path_params["recording_id"])
    scale = request.app.state.scale
    if not accreditation_is_current(user, request.app.state.settings):
        raise HTTPException(403, "Only a supervisor whose DIT accreditation is current can rate.")
    rating = await Rating.get_or_none(recording=recording, rater=user, kind=RatingKind.INDIVIDUAL)
    if rating is None:
        raise HTTPException(409, "There is no draft to submit: save your scores first.")
    rating.rater = user
    return JSONResponse(rating_json(await submit(user, rating, scale), scale))


async def visible_ratings(user: User, recording: Recording, scale: Scale, settings: Settings) -> dict:
    """What this user may see of a recording's ratings; blindness and release are decided here."""
    raters = await assigned_ids(recording)
    everyone_in = await all_submitted(recording)
    individual = await individual_ratings(recording)
    consensus = await Rating.get_or_none(recording=recording, kind=RatingKind.CONSENSUS).select_related("rater")
    official = await official_rating(recording)
    released = recording.feedback_released_at is not None
    anonymise = settings.anonymise_adjudication and not user.sees_everything
    labels = {r.id: (f"Rater {i}" if anonymise else r.rater.username) for i, r in enumerate(individual, 1)}
    if consensus is not None:
        labels[consensus.id] = "Consensus"

    if user.sees_everything:
        shown = individual + ([consensus] if consensus else [])
    elif recording.adjudicator_id == user.id:
        submitted = [r for r in individual if r.status == RatingStatus.SUBMITTED]
        shown = (submitted + ([consensus] if consensus else [])) if everyone_in else []
    elif user.id in raters:
        shown = individual if everyone_in else [r for r in individual if r.rater_id == user.id]
        shown = [r for r in shown if r.status == RatingStatus.SUBMITTED or r.rater_id == user.id]
        if everyone_in and consensus is not None and consensus.status == RatingStatus.SUBMITTED:
            shown.append(consensus)
    elif await access.can_read_trainee(user, recording.session.case.trainee_id):
        # The trainee (and their supervisors not rating this tape) see the released result only.
        shown = [official] if released and official is not None else []
    else:
        raise HTTPException(404, "No such recording.")
    visible_individual = [r for r in shown if r.kind == RatingKind.INDIVIDUAL and r.status == RatingStatus.SUBMITTED]
    return {
        "recording": recording.id,
        "raters": len(raters),
        "all_submitted": everyone_in,
        "released": released,
        "official": official.id if official and official in shown else None,
        "ratings": [rating_json(r, scale, rater_label=labels[r.id]) for r in shown],
        "comparison": comparison(visible_individual, scale, labels) if everyone_in and len(visible_individual) > 1 else [],
    }


async def get_ratings(request: Request) -> JSONResponse:
    """
    summary: A recording's ratings, as far as the caller may see them (blind until all raters have submitted; trainees see released feedback only).
    responses:
      200: {description: "{ratings: [...], comparison: [...], all_submitted, released, official}"}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    return JSONResponse(await visible_ratings(user, recording, request.app.state.scale, request.app.state.settings))


async def reopen(request: Request) -> JSONResponse:
    """
    summary: Reopen a submitted rating (course leads and admins), with the reason recorded.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [reason], properties: {reason: {type: string}}}
    responses:
      200: {description: The reopened rating.}
      400: {description: No reason given.}
      409: {description: Not submitted.}
    """
    user = api_user(request)
    require_lead(user)
    rating = await Rating.get_or_none(id=request.path_params["rating_id"]).select_related("rater", "recording")
    if rating is None:
        raise HTTPException(404, "No such rating.")
    reason = str((await json_body(request)).get("reason", "")).strip()
    if not reason:
        raise HTTPException(400, "Say why the rating is reopened: 'reason' is required.")
    async with in_transaction():
        reopened = await Rating.filter(id=rating.id, status=RatingStatus.SUBMITTED).update(
            status=RatingStatus.DRAFT, total=None, mean=None, passed=None, reasons=[], submitted_at=None)
        if not reopened:
            raise HTTPException(409, "Only a submitted rating can be reopened.")
        await RatingEvent.create(rating=rating, actor=user, action="reopened", reason=reason)
        # Feedback that rested on this rating is withdrawn until it is released again.
        await Recording.filter(id=rating.recording_id).update(feedback_released_at=None)
    await rating.refresh_from_db()
    return JSONResponse(rating_json(rating, request.app.state.scale))


async def release(request: Request) -> JSONResponse:
    """
    summary: Release a recording's official result to the trainee (course leads and admins).
    responses:
      200: {description: Released.}
      409: {description: No official result yet (not all submitted, or adjudication pending).}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    official = await official_rating(recording)
    if official is None:
        raise HTTPException(409, "There is no result to release yet: every rater must submit, and a "
                                 "double-rated tape needs a consensus rating.")
    await Recording.filter(id=recording.id).update(feedback_released_at=now())
    await RatingEvent.create(rating=official, actor=user, action="released")
    return JSONResponse({"recording": recording.id, "released": True, "official": official.id})


async def consensus_draft(request: Request) -> JSONResponse:
    """
    summary: Get (GET) or save (PUT) the adjudicated consensus rating of a double-rated recording (course leads and admins).
    responses:
      200: {description: The consensus draft, starting from the items the raters agreed on.}
      409: {description: Not all raters have submitted, or fewer than two ratings.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_adjudicator(user, recording)
    scale = request.app.state.scale
    individual = [r for r in await individual_ratings(recording) if r.status == RatingStatus.SUBMITTED]
    if not await all_submitted(recording) or len(individual) < 2:
        raise HTTPException(409, "Adjudication starts when at least two assigned raters have all submitted.")
    agreed = {}
    for item in scale.items_for(individual[0].phase):
        values = {r.scores.get(item.id) for r in individual}
        if len(values) == 1:
            agreed[item.id] = values.pop()
    rating, _ = await Rating.get_or_create(
        recording=recording, kind=RatingKind.CONSENSUS,
        defaults={"rater": user, "scale_version": scale.version, "phase": individual[0].phase, "scores": agreed},
    )
    await rating.fetch_related("rater")
    if request.method == "PUT":
        check_editable(rating, scale)
        fields = parse_rating_body(await json_body(request), scale, rating.phase, await segment_count(recording))
        for name, value in fields.items():
            setattr(rating, name, value)
        rating.rater = user
        await rating.save()
    return JSONResponse(rating_json(rating, scale, rater_label="Consensus"))


async def consensus_submit(request: Request) -> JSONResponse:
    """
    summary: Submit the consensus rating; it becomes the tape's official result. The original ratings are kept.
    responses:
      200: {description: The submitted consensus.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_adjudicator(user, recording)
    rating = await Rating.get_or_none(recording=recording, kind=RatingKind.CONSENSUS).select_related("rater")
    if rating is None:
        raise HTTPException(409, "Start the consensus rating first (GET or PUT it).")
    return JSONResponse(rating_json(await submit(user, rating, request.app.state.scale), request.app.state.scale,
                                    rater_label="Consensus"))


async def submit_for_assessment(request: Request) -> JSONResponse:
    """
    summary: The trainee puts this recording forward for assessment.
    responses:
      200: {description: Marked.}
      403: {description: Not the trainee's own recording.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    if recording.session.case.trainee_id != user.id:
        raise HTTPException(403, "Only the treating trainee puts a recording forward for assessment.")
    await Recording.filter(id=recording.id).update(submitted_for_assessment_at=now())
    return JSONResponse({"recording": recording.id, "submitted_for_assessment": True})


EXPORT_COLUMNS = ["recording", "case", "session", "item", "rater", "kind", "score", "phase", "scale_version", "submitted_at"]


async def export_rows() -> list[dict]:
    rows = []
    ratings = await Rating.filter(status=RatingStatus.SUBMITTED).select_related("rater", "recording__session__case").order_by("recording_id", "id")
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
                "phase": rating.phase,
                "scale_version": rating.scale_version,
                "submitted_at": rating.submitted_at.isoformat(),
            })
    return rows


async def export(request: Request) -> Response:
    """
    summary: Every submitted rating in long format (one row per item), as CSV or JSON (course leads and admins).
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [csv, json]}}
    responses:
      200: {description: "recording, case, session, item, rater, kind, score, phase, scale_version, submitted_at"}
    """
    user = api_user(request)
    require_lead(user)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise HTTPException(400, "format is csv or json.")
    rows = await export_rows()
    if fmt == "json":
        return JSONResponse({"ratings": rows})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="dit-ratings.csv"'})


async def post_adjudicator(request: Request) -> JSONResponse:
    """
    summary: Name a senior supervisor to adjudicate this tape's double rating (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [supervisor], properties: {supervisor: {type: string}}}
    responses:
      200: {description: Named.}
      400: {description: Not an accredited supervisor, or one of the tape's raters.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    body = await json_body(request)
    adjudicator = await name_adjudicator(recording, str(body.get("supervisor", "")), request.app.state.settings)
    return JSONResponse({"recording": recording.id, "adjudicator": adjudicator.username})


async def name_adjudicator(recording: Recording, username: str, settings: Settings) -> User:
    supervisor = await User.get_or_none(username=username, role=Role.SUPERVISOR, is_active=True)
    if supervisor is None or not accreditation_is_current(supervisor, settings):
        raise HTTPException(400, f"'{username}' is not a supervisor whose DIT accreditation is current.")
    if await Assignment.exists(recording=recording, supervisor=supervisor):
        raise HTTPException(400, f"{supervisor.name} rates this tape, so cannot also adjudicate it.")
    await Recording.filter(id=recording.id).update(adjudicator=supervisor)
    return supervisor


routes = [
    Route("/api/scale", get_scale, methods=["GET"]),
    Route("/api/queue", get_queue, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/assignments", post_assignment, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/submit-for-assessment", submit_for_assessment, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/ratings", get_ratings, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/ratings/mine", get_mine, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/ratings/mine", put_mine, methods=["PUT"]),
    Route("/api/recordings/{recording_id:int}/ratings/mine/submit", submit_mine, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/ratings/consensus", consensus_draft, methods=["GET", "PUT"]),
    Route("/api/recordings/{recording_id:int}/ratings/consensus/submit", consensus_submit, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/release", release, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/adjudicator", post_adjudicator, methods=["POST"]),
    Route("/api/ratings/{rating_id:int}/reopen", reopen, methods=["POST"]),
    Route("/api/ratings/export", export, methods=["GET"]),
]
