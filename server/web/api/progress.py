"""Accreditation progress per trainee, and the supervision hours and dates it is built from."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import access
from server.models import User
from server.services import progress
from server.web.deps import api_user, json_body, settings_of
from server.web.serialise import user_json


async def progress_json(request: Request, trainee: User) -> dict:
    return {"trainee": user_json(trainee), **await progress.trainee_progress(trainee, settings_of(request))}


async def get_progress(request: Request) -> JSONResponse:
    """
    summary: A trainee's accreditation progress against the configured targets, with deadlines and warnings.
    responses:
      200: {description: "{requirements: [{id, label, done, target, met}], deadlines, warnings, accreditable}"}
      404: {description: No such trainee (or not visible).}
    """
    trainee = await access.readable_trainee(api_user(request), request.path_params["trainee_id"])
    return JSONResponse(await progress_json(request, trainee))


async def post_supervision(request: Request) -> JSONResponse:
    """
    summary: Log hours of supervision for a trainee (the trainee, their supervisor, or a course lead).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [held_on, hours], properties: {held_on: {type: string, format: date}, hours: {type: number}, note: {type: string}}}
    responses:
      201: {description: "Logged: counted at once when a supervisor or course lead logs it; a trainee's own entry awaits confirmation."}
      400: {description: Bad date or hours.}
    """
    user = api_user(request)
    trainee = await access.readable_trainee(user, request.path_params["trainee_id"])
    log = await progress.log_supervision(user, trainee, await json_body(request))
    return JSONResponse(supervision_json(log), status_code=201)


def supervision_json(log) -> dict:
    return {"id": log.id, "held_on": log.held_on.isoformat(), "hours": log.hours,
            "awaiting_confirmation": log.awaiting_confirmation,
            "confirmed_at": log.confirmed_at.isoformat() if log.confirmed_at else None}


async def post_supervision_confirm(request: Request) -> JSONResponse:
    """
    summary: Confirm supervision hours a trainee logged themselves, so that they count (their supervisor or a course lead).
    responses:
      200: {description: The confirmed entry.}
      403: {description: Not the trainee's supervisor or a course lead.}
      409: {description: It counts already.}
    """
    user = api_user(request)
    trainee = await access.readable_trainee(user, request.path_params["trainee_id"])
    entry = await progress.confirm_supervision(user, trainee, request.path_params["entry_id"])
    return JSONResponse(supervision_json(entry))


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
    trainee = await access.readable_trainee(user, request.path_params["trainee_id"])
    access.require_may_record_training(user)
    await progress.save_training_record(user, trainee, await json_body(request))
    return JSONResponse(await progress_json(request, trainee))


TRAINEE = "/trainees/{trainee_id:int}"

routes = [
    Route(f"{TRAINEE}/progress", get_progress, methods=["GET"], name="progress"),
    Route(f"{TRAINEE}/supervision", post_supervision, methods=["POST"], name="supervision"),
    Route(f"{TRAINEE}/supervision/{{entry_id:int}}/confirm", post_supervision_confirm, methods=["POST"],
          name="supervision_confirm"),
    Route(f"{TRAINEE}/training-record", put_training_record, methods=["PUT"], name="training_record"),
]
