"""The HTML pages. Forms post with a CSRF token; errors re-render the page with a message and a 4xx."""

from __future__ import annotations

from datetime import date, datetime, timezone

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rating.phases import Phase
from server import access
from server.api import create_case, retry, transcript_for
from server.models import Assignment, CaseIpaf, Recording, Role, SupervisionLog, Transcript, User
from server.progress import log_supervision, readable_trainee, save_training_record, trainee_progress
from server.ratings import accreditation_is_current, assign, name_adjudicator, require_lead
from server.recordings import accept_recording, latest_job
from server.security import csrf_matches, csrf_token, verify_password
from server.speakers import correctable, save_correction, speaker_correction, swap
from server.suggestions import add_ipaf
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
        ipafs=await CaseIpaf.filter(case=case).order_by("-version"),
        can_record_ipaf=case.trainee_id == user.id or user.sees_everything or user.role == Role.SUPERVISOR,
        max_upload=format_bytes(request.app.state.settings.max_upload_bytes),
        error=error,
    )


async def ipaf_page(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    try:
        await add_ipaf(user, case, dict(form))
    except HTTPException as exc:
        if exc.status_code in (403, 404):
            raise
        return await case_page(request, error=exc.detail, status_code=exc.status_code)
    return RedirectResponse(f"/cases/{case.id}#ipaf", status_code=303)


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


async def recording_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    job = await latest_job(recording)
    transcript = None
    speaker_info = None
    if job is not None and job.status.value == "done":
        _, transcript = await transcript_for(user, recording.id)
        row = await Transcript.get_or_none(recording_id=recording.id)
        speaker_info = row.speakers if row else None
    settings = request.app.state.settings
    assignments = await Assignment.filter(recording=recording).select_related("supervisor").order_by("id")
    supervisors = []
    if user.sees_everything:
        assigned = {a.supervisor_id for a in assignments}
        supervisors = [s for s in await User.filter(role=Role.SUPERVISOR, is_active=True).order_by("name")
                       if s.id not in assigned and accreditation_is_current(s, settings)]
    is_owner = recording.session.case.trainee_id == user.id
    can_correct_speakers = transcript is not None and bool(transcript.segments) and (
        is_owner or user.role != Role.TRAINEE)
    return render(
        request,
        "recording.html",
        status_code=status_code,
        error=error,
        recording=recording,
        info=await recording_json(recording),
        job=job_json(job),
        transcript=transcript,
        speaker_info=speaker_info,
        can_correct_speakers=can_correct_speakers,
        correcting_speakers=can_correct_speakers and request.query_params.get("speakers") == "edit",
        case=recording.session.case,
        is_owner=is_owner,
        can_retry=is_owner or user.sees_everything,
        assignments=assignments,
        adjudicator=await User.get_or_none(id=recording.adjudicator_id) if recording.adjudicator_id else None,
        is_rater=any(a.supervisor_id == user.id for a in assignments),
        assignable=supervisors,
    )


async def assign_page(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    try:
        await assign(user, recording, str(form.get("supervisor", "")), request.app.state.settings)
    except HTTPException as exc:
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


async def adjudicator_page(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    try:
        await name_adjudicator(recording, str(form.get("supervisor", "")), request.app.state.settings)
    except HTTPException as exc:
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


async def swap_speakers_page(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    try:
        await swap(user, request.path_params["recording_id"])
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return await recording_page(request, error=exc.detail, status_code=409)
    return RedirectResponse(f"/recordings/{request.path_params['recording_id']}", status_code=303)


# A line, or the words selected, given to one speaker; the form's `correction` is "START END ROLE".
async def speaker_page(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    recording, row = await correctable(user, request.path_params["recording_id"])
    parts = str(form.get("correction", "")).split()
    if len(parts) != 3:
        return await recording_page(request, error="Choose who said the line or the selected words.", status_code=400)
    start, end, role = parts
    try:
        correction = speaker_correction(start, end, None if role == "unknown" else role)
    except HTTPException as exc:
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    await save_correction(recording, row, correction)
    return RedirectResponse(f"/recordings/{recording.id}?speakers=edit#t={correction.start:g}", status_code=303)


async def assessment_page(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    if recording.session.case.trainee_id != user.id:
        raise HTTPException(403, "Only the treating trainee puts a recording forward for assessment.")
    await Recording.filter(id=recording.id).update(submitted_for_assessment_at=datetime.now(timezone.utc))
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


async def retry_page(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await retry(user, recording, request.app.state.settings)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


async def progress_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    trainee = await readable_trainee(user, request.path_params["trainee_id"])
    logs = await SupervisionLog.filter(trainee=trainee).order_by("-held_on").select_related("supervisor")
    return render(
        request, "progress.html", status_code=status_code, trainee=trainee, error=error, logs=logs,
        progress=await trainee_progress(trainee, request.app.state.settings),
        can_log=user.id == trainee.id or user.sees_everything or user.role == Role.SUPERVISOR,
        can_record=user.sees_everything, today=date.today().isoformat(),
    )


async def progress_form(request: Request, action) -> Response:
    user = page_user(request)
    trainee = await readable_trainee(user, request.path_params["trainee_id"])
    form = await checked_form(request)
    try:
        await action(user, trainee, dict(form))
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        return await progress_page(request, error=exc.detail, status_code=exc.status_code)
    return RedirectResponse(f"/trainees/{trainee.id}/progress", status_code=303)


async def supervision_form(request: Request) -> Response:
    return await progress_form(request, log_supervision)


async def training_record_form(request: Request) -> Response:
    async def record(user, trainee, fields):
        if not user.sees_everything:
            raise HTTPException(403, "Only a course lead or an admin records these dates.")
        await save_training_record(trainee, fields)

    return await progress_form(request, record)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/cases", cases_page, methods=["GET"]),
    Route("/cases", post_case, methods=["POST"]),
    Route("/cases/{case_id:int}", case_page, methods=["GET"]),
    Route("/cases/{case_id:int}/sessions/{number:int}/recording", upload_page, methods=["POST"]),
    Route("/cases/{case_id:int}/ipaf", ipaf_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}", recording_page, methods=["GET"]),
    Route("/recordings/{recording_id:int}/retry", retry_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}/assignments", assign_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}/submit-for-assessment", assessment_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}/adjudicator", adjudicator_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}/speakers/swap", swap_speakers_page, methods=["POST"]),
    Route("/recordings/{recording_id:int}/speakers", speaker_page, methods=["POST"]),
    Route("/trainees/{trainee_id:int}/progress", progress_page, methods=["GET"]),
    Route("/trainees/{trainee_id:int}/supervision", supervision_form, methods=["POST"]),
    Route("/trainees/{trainee_id:int}/training-record", training_record_form, methods=["POST"]),
]
