"""The case pages: the list of cases, one case with its sessions and IPAF, uploading a recording."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rating.phases import Phase
from server import access
from server.errors import DomainError
from server.models import Role, User
from server.services import cases, suggestions, worklist
from server.web.deps import check_csrf, checked_form, page_user, redirect, render, settings_of
from server.web.serialise import sessions_json
from server.web.uploads import format_bytes, receive_recording


async def cases_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    trainees = []
    if access.sees_everything(user):
        trainees = await User.filter(role=Role.TRAINEE, is_active=True).order_by("name")
    return render(request, "cases.html", status_code=status_code, cases=await access.visible_cases(user),
                  trainees=trainees, error=error)


async def post_case(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    try:
        case = await cases.create_case(user, str(form.get("code", "")), form.get("trainee") or None)
    except DomainError as exc:
        return await cases_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "case", case_id=case.id)


async def case_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    slots = await cases.case_sessions(case)
    standing = await worklist.standings([slot.recording for slot in slots if slot.recording])
    return render(
        request,
        "case.html",
        status_code=status_code,
        case=case,
        sessions=await sessions_json(request, slots),
        stages={rid: place.stage for rid, place in standing.items()},
        next_step=worklist.NEXT_STEP,
        phases=list(Phase),
        can_upload=access.may_upload(user, case),
        ipafs=await suggestions.ipaf_versions(case),
        can_record_ipaf=access.may_record_ipaf(user, case),
        max_upload=format_bytes(settings_of(request).max_upload_bytes),
        error=error,
    )


async def ipaf_form(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    try:
        await suggestions.add_ipaf(user, case, dict(form))
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return await case_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "case", fragment="ipaf", case_id=case.id)


async def upload_form(request: Request) -> Response:
    user = page_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    access.require_uploader(user, case)
    number = cases.check_session_number(request.path_params["number"])
    try:
        recording = await receive_recording(request, settings_of(request), case, number, user,
                                            lambda fields: check_csrf(request, fields))
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        return await case_page(request, error=f"Session {number}: {exc.detail}", status_code=exc.status_code)
    return redirect(request, "recording", recording_id=recording.id)


CASE = "/cases/{case_id:int}"

routes = [
    Route("/cases", cases_page, methods=["GET"], name="cases"),
    Route("/cases", post_case, methods=["POST"], name="case_create"),
    Route(CASE, case_page, methods=["GET"], name="case"),
    Route(f"{CASE}/sessions/{{number:int}}/recording", upload_form, methods=["POST"], name="upload"),
    Route(f"{CASE}/ipaf", ipaf_form, methods=["POST"], name="ipaf_create"),
]
