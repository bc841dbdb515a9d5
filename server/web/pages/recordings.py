"""The transcript page of a recording, and its forms: retry, assign, name an adjudicator, correct
speakers, put forward for assessment."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import access
from server.errors import DomainError
from server.models import JobStatus, Rating, User
from server.services import assignments, audit_log, deletion, recordings, speakers, transcripts
from server.services.transcripts import read_transcript, stored_transcript
from server.web.deps import checked_form, page_user, redirect, render, settings_of
from server.web.serialise import job_json, recording_json

ACCESSES_SHOWN = 50


async def recording_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    job = await recordings.latest_job(recording)
    transcript = speaker_info = None
    if job is not None and job.status == JobStatus.DONE and recording.transcript_deleted_at is None:
        transcript = await read_transcript(settings_of(request), recording)
        speaker_info = (await stored_transcript(recording)).speakers
    assigned = await assignments.assignments_of(recording)
    assignable = []
    if access.sees_everything(user):
        assignable = await assignments.current_supervisors(settings_of(request),
                                                           exclude={a.supervisor_id for a in assigned})
    can_correct = transcript is not None and bool(transcript.segments) and access.may_correct_transcript(
        user, recording)
    info = await recording_json(request, recording)
    accesses = (await audit_log.events(audit_log.Filters(recording=recording.id), limit=ACCESSES_SHOWN)
                if access.may_see_who_accessed(user, recording) else None)
    return render(
        request,
        "recording.html",
        status_code=status_code,
        error=error,
        recording=recording,
        info=info,
        job=job_json(job),
        transcript=transcript,
        speaker_info=speaker_info,
        can_correct=can_correct,
        correcting_speakers=can_correct and request.query_params.get("speakers") == "edit",
        case=recording.session.case,
        is_owner=access.is_treating_trainee(user, recording.session.case),
        can_retry=access.may_retry(user, recording),
        assignments=assigned,
        adjudicator=await User.get_or_none(id=recording.adjudicator_id) if recording.adjudicator_id else None,
        is_rater=any(a.supervisor_id == user.id for a in assigned),
        assignable=assignable,
        accesses=accesses,
        accesses_shown=ACCESSES_SHOWN,
        tombstone=info["deleted"],
        can_delete=recording.deleted_at is None and access.may_delete_recording(
            user, recording, rated=await Rating.exists(recording_id=recording.id)),
        can_withdraw_consent=recording.deleted_at is None and access.may_withdraw_consent(user, recording),
    )


async def lead_form(request: Request, action) -> Response:
    """A course lead's form on the recording page: `action(user, recording, supervisor username, settings)`;
    a refusal is shown on the page."""
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    try:
        await action(user, recording, str(form.get("supervisor", "")), settings_of(request))
    except DomainError as exc:
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "recording", recording_id=recording.id)


async def assign_form(request: Request) -> Response:
    return await lead_form(request, assignments.assign)


async def unassign_form(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    try:
        await assignments.unassign(user, recording, request.path_params["username"])
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "recording", recording_id=recording.id)


async def adjudicator_form(request: Request) -> Response:
    return await lead_form(request, assignments.name_adjudicator)


async def swap_speakers_form(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    try:
        await speakers.swap(settings_of(request), user, request.path_params["recording_id"])
    except DomainError as exc:
        if exc.status_code != 409:
            raise
        return await recording_page(request, error=exc.detail, status_code=409)
    return redirect(request, "recording", recording_id=request.path_params["recording_id"])


async def speaker_form(request: Request) -> Response:
    """A line, or the words selected, given to one speaker; the form's `correction` is "START END ROLE"."""
    user = page_user(request)
    form = await checked_form(request)
    recording, row = await transcripts.correctable(user, request.path_params["recording_id"])
    parts = str(form.get("correction", "")).split()
    if len(parts) != 3:
        return await recording_page(request, error="Choose who said the line or the selected words.", status_code=400)
    start, end, role = parts
    try:
        correction = speakers.speaker_correction(start, end, None if role == "unknown" else role)
    except DomainError as exc:
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    await speakers.save_correction(settings_of(request), recording, row, correction, user)
    return redirect(request, "recording", query="speakers=edit", fragment=f"t={correction.start:g}",
                    recording_id=recording.id)


async def deletion_form(request: Request, action) -> Response:
    """Deleting the recording, or recording withdrawn consent: `action(settings, user, recording, reason)`; a
    refusal (no reason given, already rated) is shown on the page."""
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    try:
        await action(settings_of(request), user, recording, form.get("reason"))
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return await recording_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "recording", recording_id=recording.id)


async def delete_form(request: Request) -> Response:
    return await deletion_form(request, deletion.delete_recording)


async def consent_withdrawn_form(request: Request) -> Response:
    return await deletion_form(request, deletion.withdraw_consent)


async def put_forward_form(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await recordings.put_forward_for_assessment(user, recording)
    return redirect(request, "recording", recording_id=recording.id)


async def retry_form(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await recordings.retry(user, recording, settings_of(request))
    return redirect(request, "recording", recording_id=recording.id)


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route(RECORDING, recording_page, methods=["GET"], name="recording"),
    Route(f"{RECORDING}/retry", retry_form, methods=["POST"], name="retry"),
    Route(f"{RECORDING}/assignments", assign_form, methods=["POST"], name="assign"),
    Route(f"{RECORDING}/submit-for-assessment", put_forward_form, methods=["POST"], name="put_forward"),
    Route(f"{RECORDING}/assignments/{{username}}/delete", unassign_form, methods=["POST"], name="unassign"),
    Route(f"{RECORDING}/adjudicator", adjudicator_form, methods=["POST"], name="adjudicator"),
    Route(f"{RECORDING}/speakers/swap", swap_speakers_form, methods=["POST"], name="speakers_swap"),
    Route(f"{RECORDING}/speakers", speaker_form, methods=["POST"], name="speakers"),
    Route(f"{RECORDING}/delete", delete_form, methods=["POST"], name="recording_delete"),
    Route(f"{RECORDING}/consent-withdrawn", consent_withdrawn_form, methods=["POST"], name="consent_withdrawn"),
]
