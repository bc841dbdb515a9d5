"""The JSON API. Each handler's docstring is its OpenAPI description (served at /api/openapi.json)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator
from tortoise.exceptions import IntegrityError

from server import access
from server.models import ApiToken, Case, JobStatus, Role, Transcript, User
from server.recordings import accept_recording, latest_job, original_path, queue_transcription
from server.security import csrf_matches, new_api_token, verify_password
from server.views import case_json, case_sessions, check_case_code, check_session_number, recording_json, user_json
from transcription.formats import FORMATS, MEDIA_TYPES
from transcription.transcript import Transcript as TranscriptData

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def api_user(request: Request) -> User:
    """The caller, or 401. Cookie-authenticated writes must also carry the CSRF token header."""
    if not request.user.is_authenticated:
        raise HTTPException(401, "Log in first: POST /api/token, then send 'Authorization: Bearer <token>'.")
    if (
        "session" in request.auth.scopes
        and request.method not in SAFE_METHODS
        and not csrf_matches(request.session, request.headers.get("x-csrf-token"))
    ):
        raise HTTPException(403, "Missing or wrong X-CSRF-Token header for a cookie-authenticated request.")
    return request.user


async def json_body(request: Request) -> dict:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return dict(await request.form())
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, "The request body must be a JSON object.")
    return body


async def create_token(request: Request) -> JSONResponse:
    """
    summary: Exchange a username and password for a bearer token.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}}}
    responses:
      200: {description: "{token, token_type, user}"}
      401: {description: Wrong username or password.}
    """
    body = await json_body(request)
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    if not username or not password:
        raise HTTPException(400, "Send 'username' and 'password'.")
    user = await User.get_or_none(username=username, is_active=True)
    if not verify_password(user.password_hash if user else None, password):
        raise HTTPException(401, "Wrong username or password.")
    token, token_hash = new_api_token()
    await ApiToken.create(user=user, token_hash=token_hash)
    return JSONResponse({"token": token, "token_type": "bearer", "user": user_json(user)})


async def me(request: Request) -> JSONResponse:
    """
    summary: The user the token belongs to.
    responses:
      200: {description: "{id, username, name, role}"}
    """
    return JSONResponse(user_json(api_user(request)))


async def list_cases(request: Request) -> JSONResponse:
    """
    summary: Training cases the caller may see (a trainee's own, a supervisor's supervisees', all for leads and admins).
    responses:
      200: {description: "{cases: [...]}"}
    """
    user = api_user(request)
    cases = await access.visible_cases(user)
    return JSONResponse({"cases": [case_json(case) for case in cases]})


async def create_case(request: Request, user: User, code: str, trainee_username: str | None) -> Case:
    """Shared by the API and the page: a trainee opens their own case; a lead or admin names the trainee."""
    access.require_can_create_case(user)
    code = check_case_code(code)
    if user.role == Role.TRAINEE:
        if trainee_username and trainee_username != user.username:
            raise HTTPException(403, "A trainee opens cases for themselves only.")
        trainee = user
    else:
        if not trainee_username:
            raise HTTPException(400, "Name the trainee whose case this is ('trainee': username).")
        trainee = await User.get_or_none(username=trainee_username, role=Role.TRAINEE, is_active=True)
        if trainee is None:
            raise HTTPException(400, f"There is no trainee with the username '{trainee_username}'.")
    try:
        case = await Case.create(code=code, trainee=trainee)
    except IntegrityError as exc:
        raise HTTPException(409, f"The case code '{code}' is already in use; choose another.") from exc
    case.trainee = trainee
    return case


async def post_case(request: Request) -> JSONResponse:
    """
    summary: Open a training case.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [code], properties: {code: {type: string, description: "Pseudonymous case code, never a patient name"}, trainee: {type: string, description: "Trainee username (course leads and admins)"}}}
    responses:
      201: {description: The new case.}
      400: {description: Invalid code or trainee.}
      409: {description: Code already in use.}
    """
    user = api_user(request)
    body = await json_body(request)
    case = await create_case(request, user, str(body.get("code", "")), body.get("trainee"))
    return JSONResponse(case_json(case), status_code=201)


async def get_case(request: Request) -> JSONResponse:
    """
    summary: One case, with its sixteen sessions, their DIT phase and current recording.
    responses:
      200: {description: "{id, code, trainee, sessions: [...]}"}
      404: {description: No such case (or not visible to the caller).}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    return JSONResponse({**case_json(case), "sessions": await case_sessions(case)})


async def upload_recording(request: Request) -> JSONResponse:
    """
    summary: Upload (or replace) a session's recording; it is queued for transcription.
    description: Audio or video (wav, mp3, m4a, flac, ogg, opus, mp4, mov, webm...) in the multipart field `file`.
    requestBody:
      content:
        multipart/form-data:
          schema: {type: object, required: [file], properties: {file: {type: string, format: binary}}}
    responses:
      201: {description: The accepted recording and its job status.}
      400: {description: No file, empty file, or a path-like file name.}
      413: {description: Larger than the configured limit.}
      422: {description: Not media, no audio track, or zero duration.}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    access.require_uploader(user, case)
    number = check_session_number(request.path_params["number"])
    recording, _ = await accept_recording(request, request.app.state.settings, case, number, user)
    recording = await access.readable_recording(user, recording.id)
    return JSONResponse(await recording_json(recording), status_code=201)


async def get_recording(request: Request) -> JSONResponse:
    """
    summary: A recording's transcription status, progress (percent) and error.
    responses:
      200: {description: "{id, status: queued|running|done|failed, progress, error, ...}"}
      404: {description: No such recording.}
    """
    recording = await access.readable_recording(api_user(request), request.path_params["recording_id"])
    return JSONResponse(await recording_json(recording))


async def retry_recording(request: Request) -> JSONResponse:
    """
    summary: Queue a failed transcription again.
    responses:
      202: {description: Queued.}
      409: {description: The transcription has not failed.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await retry(user, recording, request.app.state.settings)
    return JSONResponse(await recording_json(recording), status_code=202)


async def retry(user: User, recording, settings) -> None:
    access.require_can_retry(user, recording)
    job = await latest_job(recording)
    if job is None or job.status != JobStatus.FAILED:
        raise HTTPException(409, "Only a failed transcription can be retried.")
    await queue_transcription(recording, settings)


async def transcript_for(user: User, recording_id: int) -> tuple[object, TranscriptData]:
    recording = await access.readable_recording(user, recording_id)
    row = await Transcript.get_or_none(recording_id=recording.id)
    if row is None:
        job = await latest_job(recording)
        state = f"{job.status.value}, {job.progress * 100:.0f}%" if job else "not queued"
        raise HTTPException(409, f"The transcript is not ready yet ({state}).")
    return recording, TranscriptData.from_dict(row.data)


async def get_transcript(request: Request) -> Response:
    """
    summary: The transcript as JSON, or as WebVTT, SRT or plain text.
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [json, vtt, srt, txt]}}
      - {name: download, in: query, schema: {type: boolean}, description: Send as an attachment.}
    responses:
      200: {description: "JSON: {language, engine, model, duration, segments: [{start, end, speaker, text, words}]}"}
      409: {description: Not transcribed yet.}
    """
    fmt = request.query_params.get("format", "json")
    if fmt not in FORMATS:
        raise HTTPException(400, f"Unknown format '{fmt}'; use one of {', '.join(FORMATS)}.")
    recording, transcript = await transcript_for(api_user(request), request.path_params["recording_id"])
    headers = {"Cache-Control": "no-store"}
    if request.query_params.get("download"):
        case = recording.session.case
        headers["Content-Disposition"] = f'attachment; filename="{case.code}-session{recording.session.number:02d}.{fmt}"'
    return Response(FORMATS[fmt](transcript), media_type=MEDIA_TYPES[fmt], headers=headers)


async def get_media(request: Request) -> FileResponse:
    """
    summary: The original recording, for playback (supports HTTP range requests).
    responses:
      200: {description: The media file.}
      206: {description: A byte range of it.}
    """
    recording = await access.readable_recording(api_user(request), request.path_params["recording_id"])
    path = original_path(request.app.state.settings, recording)
    if not path.exists():
        raise HTTPException(404, "The recording's file is missing from storage.")
    return FileResponse(path, media_type=recording.media_type, headers={"Cache-Control": "private, no-store"})


schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "DIT supervision platform API", "version": "1.0"},
     "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
     "security": [{"bearer": []}]}
)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(schemas.get_schema(routes=request.app.routes))


routes = [
    Route("/api/token", create_token, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/cases", list_cases, methods=["GET"]),
    Route("/api/cases", post_case, methods=["POST"]),
    Route("/api/cases/{case_id:int}", get_case, methods=["GET"]),
    Route("/api/cases/{case_id:int}/sessions/{number:int}/recording", upload_recording, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}", get_recording, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/retry", retry_recording, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/transcript", get_transcript, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/media", get_media, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False),
]
