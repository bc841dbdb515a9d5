"""Training cases and their IPAF versions."""

from __future__ import annotations

import contextlib

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from server import access
from server.services import cases, subject_access, suggestions
from server.web.deps import api_user, json_body, settings_of
from server.web.serialise import case_json, sessions_json
from server.workdirs import workdir


async def list_cases(request: Request) -> JSONResponse:
    """
    summary: Training cases the caller may see (a trainee's own, a supervisor's supervisees', all for leads and admins).
    responses:
      200: {description: "{cases: [...]}"}
    """
    visible = await access.visible_cases(api_user(request))
    return JSONResponse({"cases": [case_json(request, case) for case in visible]})


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
    case = await cases.create_case(user, str(body.get("code", "")), body.get("trainee"))
    return JSONResponse(case_json(request, case), status_code=201)


async def get_case(request: Request) -> JSONResponse:
    """
    summary: One case, with its sixteen sessions, their DIT phase and current recording.
    responses:
      200: {description: "{id, code, trainee, sessions: [...]}"}
      404: {description: No such case (or not visible to the caller).}
    """
    case = await access.readable_case(api_user(request), request.path_params["case_id"])
    slots = await cases.case_sessions(case)
    return JSONResponse({**case_json(request, case), "sessions": await sessions_json(request, slots)})


async def get_case_export(request: Request) -> FileResponse:
    """
    summary: Everything held about the case as one ZIP archive, for a subject-access request (course leads and admins).
    description: "case.json (the case, IPAF versions, recordings with consent and deletions, ratings and their history), transcripts/, media/ and audit.csv (every audit row about the case)."
    responses:
      200: {description: The archive (application/zip).}
      403: {description: Not a course lead or an admin.}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    settings = settings_of(request)
    # The archive is built in a scratch directory held until it has been sent, then removed.
    held = contextlib.ExitStack()
    directory = held.enter_context(workdir(settings.scratch_dir))
    try:
        path = directory / "case.zip"
        await subject_access.write_case_archive(settings, user, case, path)
    except BaseException:
        held.close()
        raise
    return FileResponse(path, media_type="application/zip", filename=f"{case.code}-records.zip",
                        headers={"Cache-Control": "no-store"}, background=BackgroundTask(held.close))


async def get_ipafs(request: Request) -> JSONResponse:
    """
    summary: A case's IPAF versions, newest first.
    responses:
      200: {description: "{ipafs: [{version, from_session, self, other, affect, summary}]}"}
    """
    case = await access.readable_case(api_user(request), request.path_params["case_id"])
    return JSONResponse({"ipafs": [suggestions.ipaf_json(row) for row in await suggestions.ipaf_versions(case)]})


async def post_ipaf(request: Request) -> JSONResponse:
    """
    summary: Record a new version of the case's IPAF, applying from a session onwards.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [self, other, affect], properties: {self: {type: string}, other: {type: string}, affect: {type: string}, summary: {type: string}, from_session: {type: integer}}}
    responses:
      201: {description: The new version.}
      400: {description: A part is missing.}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    row = await suggestions.add_ipaf(user, case, await json_body(request))
    return JSONResponse(suggestions.ipaf_json(row), status_code=201)


routes = [
    Route("/cases", list_cases, methods=["GET"], name="cases"),
    Route("/cases", post_case, methods=["POST"], name="case_create"),
    Route("/cases/{case_id:int}", get_case, methods=["GET"], name="case"),
    Route("/cases/{case_id:int}/export", get_case_export, methods=["GET"], name="case_export"),
    Route("/cases/{case_id:int}/ipaf", get_ipafs, methods=["GET"], name="ipafs"),
    Route("/cases/{case_id:int}/ipaf", post_ipaf, methods=["POST"], name="ipaf_create"),
]
