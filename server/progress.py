"""Accreditation progress per trainee, and the supervision hours and dates it is built from."""

from __future__ import annotations

from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rating.accreditation import TapeResult, accreditation_progress
from rating.phases import phase_of
from server import access
from server.api import api_user, json_body
from server.models import Case, Recording, Role, SupervisionLog, TherapySession, TrainingRecord, User
from server.ratings import official_rating
from server.views import user_json


async def readable_trainee(user: User, trainee_id: int) -> User:
    trainee = await User.get_or_none(id=trainee_id, role=Role.TRAINEE)
    if trainee is None or not await access.can_read_trainee(user, trainee.id):
        raise HTTPException(404, "No such trainee.")
    return trainee


async def trainee_progress(trainee: User, settings, today: date | None = None) -> dict:
    cases = await Case.filter(trainee=trainee).order_by("code")
    sessions_recorded = {}
    tapes = []
    for case in cases:
        sessions_recorded[case.code] = await TherapySession.filter(
            case=case, recordings__is_current=True).distinct().count()
        recordings = await Recording.filter(session__case=case, is_current=True).select_related("session")
        for recording in recordings:
            official = await official_rating(recording)
            if official is not None:
                tapes.append(TapeResult(case.code, recording.session.number,
                                        phase_of(recording.session.number).value, bool(official.passed)))
    record = await TrainingRecord.get_or_none(trainee=trainee)
    hours = sum(await SupervisionLog.filter(trainee=trainee).values_list("hours", flat=True))
    progress = accreditation_progress(
        settings.targets,
        today=today or date.today(),
        training_completed_on=record.training_completed_on if record else None,
        sessions_recorded=sessions_recorded,
        tapes=sorted(tapes, key=lambda t: (t.case, t.session)),
        supervision_hours=hours,
        roleplay_certificate_on=record.roleplay_certificate_on if record else None,
        case_study_on=record.case_study_on if record else None,
    )
    return {"trainee": user_json(trainee), "training_completed_on": (
        record.training_completed_on.isoformat() if record and record.training_completed_on else None), **progress}


async def get_progress(request: Request) -> JSONResponse:
    """
    summary: A trainee's accreditation progress against the configured targets, with deadlines and warnings.
    responses:
      200: {description: "{requirements: [{id, label, done, target, met}], deadlines, warnings, accreditable}"}
      404: {description: No such trainee (or not visible).}
    """
    user = api_user(request)
    trainee = await readable_trainee(user, request.path_params["trainee_id"])
    return JSONResponse(await trainee_progress(trainee, request.app.state.settings))


def parse_date(value, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise HTTPException(400, f"'{name}' must be a date as YYYY-MM-DD.") from exc


async def log_supervision(user: User, trainee: User, body: dict) -> SupervisionLog:
    if not (user.id == trainee.id or user.sees_everything or user.role == Role.SUPERVISOR):
        raise HTTPException(403, "Supervision is logged by the trainee, their supervisor or a course lead.")
    held_on = parse_date(body.get("held_on"), "held_on")
    if held_on is None:
        raise HTTPException(400, "Give the date the supervision was held: 'held_on' as YYYY-MM-DD.")
    if held_on > date.today():
        raise HTTPException(400, "Supervision cannot be logged for a future date.")
    try:
        hours = float(body.get("hours"))
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, "'hours' must be a number, e.g. 1.5.") from exc
    if not 0 < hours <= 8:
        raise HTTPException(400, "'hours' must be more than 0 and at most 8 for one session.")
    return await SupervisionLog.create(
        trainee=trainee, supervisor=user if user.role == Role.SUPERVISOR else None, held_on=held_on,
        hours=hours, note=str(body.get("note", ""))[:2000], logged_by=user)


async def post_supervision(request: Request) -> JSONResponse:
    """
    summary: Log hours of supervision for a trainee (the trainee, their supervisor, or a course lead).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [held_on, hours], properties: {held_on: {type: string, format: date}, hours: {type: number}, note: {type: string}}}
    responses:
      201: {description: Logged.}
      400: {description: Bad date or hours.}
    """
    user = api_user(request)
    trainee = await readable_trainee(user, request.path_params["trainee_id"])
    log = await log_supervision(user, trainee, await json_body(request))
    return JSONResponse({"id": log.id, "held_on": log.held_on.isoformat(), "hours": log.hours}, status_code=201)


async def put_training_record(request: Request) -> JSONResponse:
    """
    summary: Record a trainee's training completion, role-play certificate and case study dates (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {training_completed_on: {type: string, format: date}, roleplay_certificate_on: {type: string, format: date}, case_study_on: {type: string, format: date}}}
    responses:
      200: {description: The trainee's progress.}
    """
    user = api_user(request)
    trainee = await readable_trainee(user, request.path_params["trainee_id"])
    if not user.sees_everything:
        raise HTTPException(403, "Only a course lead or an admin records these dates.")
    await save_training_record(trainee, await json_body(request))
    return JSONResponse(await trainee_progress(trainee, request.app.state.settings))


async def save_training_record(trainee: User, body: dict) -> None:
    names = ("training_completed_on", "roleplay_certificate_on", "case_study_on")
    dates = {name: parse_date(body.get(name), name) for name in names if name in body}
    if any(d and d > date.today() for d in dates.values()):
        raise HTTPException(400, "These dates cannot be in the future.")
    record, _ = await TrainingRecord.get_or_create(trainee=trainee)
    for name, value in dates.items():
        setattr(record, name, value)
    await record.save()


routes = [
    Route("/api/trainees/{trainee_id:int}/progress", get_progress, methods=["GET"]),
    Route("/api/trainees/{trainee_id:int}/supervision", post_supervision, methods=["POST"]),
    Route("/api/trainees/{trainee_id:int}/training-record", put_training_record, methods=["PUT"]),
]
