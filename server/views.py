"""What the API and the pages show of each thing: plain dicts built from the database rows."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException

from rating.phases import SESSIONS_PER_CASE, phase_of
from server.models import Case, Recording, Role, TherapySession, TranscriptionJob, User
from server.recordings import latest_job

CASE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")


def check_case_code(code: str) -> str:
    code = (code or "").strip()
    if not CASE_CODE.fullmatch(code):
        raise HTTPException(400, "A case code is 2-32 letters, digits, '-' or '_', e.g. DIT-024.")
    if not any(ch.isdigit() for ch in code):
        # A rule that keeps patients' names out: a name has no digits.
        raise HTTPException(400, "A case code must contain a digit (e.g. DIT-024), so that it cannot be a patient's name.")
    return code


def check_session_number(number: int) -> int:
    if not 1 <= number <= SESSIONS_PER_CASE:
        raise HTTPException(404, f"A DIT case has sessions 1 to {SESSIONS_PER_CASE}.")
    return number


def user_json(user: User) -> dict:
    data = {"id": user.id, "username": user.username, "name": user.name, "role": user.role.value}
    if user.role == Role.SUPERVISOR:
        data["accredited"] = user.accredited
        data["accredited_on"] = user.accredited_on.isoformat() if user.accredited_on else None
    return data


def job_json(job: TranscriptionJob | None) -> dict:
    if job is None:
        return {"status": None, "progress": 0.0, "error": None}
    return {
        "status": job.status.value,
        "progress": round(job.progress * 100, 1),
        "error": job.error,
        "engine": job.engine,
        "model": job.model,
        "attempts": job.attempts,
    }


async def recording_json(recording: Recording) -> dict:
    session = recording.session
    job = await latest_job(recording)
    return {
        "id": recording.id,
        "case": session.case_id,
        "session": session.number,
        "phase": phase_of(session.number).value,
        "is_current": recording.is_current,
        "uploaded_at": recording.created_at.isoformat(),
        "duration": round(recording.duration, 3),
        "media_type": recording.media_type,
        "size_bytes": recording.size_bytes,
        "sha256": recording.sha256,
        "has_video": recording.has_video,
        **job_json(job),
        "links": {
            "self": f"/api/recordings/{recording.id}",
            "transcript": f"/api/recordings/{recording.id}/transcript",
            "media": f"/api/recordings/{recording.id}/media",
            "page": f"/recordings/{recording.id}",
        },
    }


def case_json(case: Case) -> dict:
    return {
        "id": case.id,
        "code": case.code,
        "trainee": user_json(case.trainee),
        "created_at": case.created_at.isoformat(),
        "links": {"self": f"/api/cases/{case.id}", "page": f"/cases/{case.id}"},
    }


async def case_sessions(case: Case) -> list[dict]:
    """All sixteen sessions, each with its phase and current recording (or None)."""
    sessions = {s.number: s for s in await TherapySession.filter(case=case)}
    current = {
        r.session_id: r
        for r in await Recording.filter(session__case=case, is_current=True).select_related("session")
    }
    result = []
    for number in range(1, SESSIONS_PER_CASE + 1):
        session = sessions.get(number)
        recording = current.get(session.id) if session else None
        result.append(
            {
                "number": number,
                "phase": phase_of(number).value,
                "recording": await recording_json(recording) if recording else None,
            }
        )
    return result
