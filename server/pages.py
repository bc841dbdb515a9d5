"""The HTML pages. Forms post with a CSRF token; errors re-render the page with a message and a 4xx."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rating.phases import Phase
from server import access
from server.api import create_case, retry, transcript_for
from server.models import Role, User
from server.recordings import accept_recording, latest_job
from server.security import csrf_matches, csrf_token, verify_password
from server.uploads import format_bytes
from server.views import case_sessions, check_session_number, job_json, recording_json


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    templates = request.app.state.templates
    context.setdefault("user", request.user if request.user.is_authenticated else None)
    context["csrf_token"] = csrf_token(request.session)
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def page_user(request: Request) -> User:
    if not request.user.is_authenticated:
        raise HTTPException(401, "Please log in.")
    return request.user


def check_csrf(request: Request, fields) -> None:
    if not csrf_matches(request.session, fields.get("csrf_token")):
        raise HTTPException(403, "This form has expired or did not come from this site. Reload the page and try again.")


async def checked_form(request: Request):
    form = await request.form()
    check_csrf(request, form)
    return form


async def home(request: Request) -> Response:
    target = "/cases" if request.user.is_authenticated else "/login"
    return RedirectResponse(target, status_code=303)


async def login_page(request: Request) -> Response:
    if request.user.is_authenticated:
        return RedirectResponse("/cases", status_code=303)
    return render(request, "login.html", next=request.query_params.get("next", ""))


def safe_next(target: str) -> str:
    """Only redirect within this site after log-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/cases"


async def login(request: Request) -> Response:
    form = await checked_form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    user = await User.get_or_none(username=username, is_active=True)
    if not verify_password(user.password_hash if user else None, password):
        return render(request, "login.html", status_code=401, error="Wrong username or password.", username=username)
    request.session.clear()
    request.session["user_id"] = user.id
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def cases_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    cases = await access.visible_cases(user)
    trainees = []
    if user.sees_everything:
        trainees = await User.filter(role=Role.TRAINEE, is_active=True).order_by("name")
    return render(request, "cases.html", status_code=status_code, cases=cases, trainees=trainees, error=error)


async def post_case(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    try:
        case = await create_case(request, user, str(form.get("code", "")), form.get("trainee") or None)
    except HTTPException as exc:
        return await cases_page(request, error=exc.detail, status_code=exc.status_code)
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


async def case_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    return render(
        request,
        "case.html",
        status_code=status_code,
        case=case,
        sessions=await case_sessions(case),
        phases=list(Phase),
        can_upload=case.trainee_id == user.id,
        max_upload=format_bytes(request.app.state.settings.max_upload_bytes),
        error=error,
    )


async def upload_page(request: Request) -> Response:
    user = page_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    access.require_uploader(user, case)
    number = check_session_number(request.path_params["number"])
    try:
        recording, _ = await accept_recording(
            request, request.app.state.settings, case, number, user, lambda fields: check_csrf(request, fields)
        )
    except HTTPException as exc:
        if exc.status_code == 403:
            raise
        return await case_page(request, error=f"Session {number}: {exc.detail}", status_code=exc.status_code)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


async def recording_page(request: Request) -> Response:
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    job = await latest_job(recording)
    transcript = None
    if job is not None and job.status.value == "done":
        _, transcript = await transcript_for(user, recording.id)
    return render(
        request,
        "recording.html",
        recording=recording,
        info=await recording_json(recording),
        job=job_json(job),
        transcript=transcript,
        case=recording.session.case,
        can_retry=recording.session.case.trainee_id == user.id or user.sees_everything,
    )


async def retry_page(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await retry(user, recording, request.app.state.settings)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/cases", cases_page, methods=["GET"]),
    Route("/cases", post_case, methods=["POST"]),
    Route("/cases/{case_id:int}", case_page, methods=["GET"]),
    Route("/cases/{case_id:int}/sessions/{number:int}/recording", upload_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}", recording_page, methods=["GET"]),
    Route("/recordings/{recording_id:int}/retry", retry_page, methods=["POST"]),
]
