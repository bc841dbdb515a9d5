"""What the API and the pages show of each thing: plain dicts built from the database rows, with
links built from the routes' names."""

from __future__ import annotations

from starlette.requests import Request

from server.models import ApiToken, Case, Recording, Role, TranscriptionJob, User, UserSession
from server.services.assignments import queue_for
from server.services.cases import SessionSlot
from server.services.recordings import latest_job


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


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


async def _tombstone(recording: Recording) -> dict | None:
    """What was deleted, when, why and by whom; None while the recording is whole."""
    if recording.deleted_at is None:
        return None
    by = await User.get_or_none(id=recording.deleted_by_id) if recording.deleted_by_id else None
    return {"at": recording.deleted_at.isoformat(), "by": by.username if by else None,
            "reason": recording.deletion_reason, "consent_withdrawn": recording.consent_withdrawn_at is not None}


async def recording_json(request: Request, recording: Recording) -> dict:
    session = recording.session
    url = request.app.url_path_for
    return {
        "id": recording.id,
        "case": session.case_id,
        "session": session.number,
        "phase": session.phase.value,
        "is_current": recording.is_current,
        "uploaded_at": recording.created_at.isoformat(),
        "duration": round(recording.duration, 3),
        "media_type": recording.media_type,
        "size_bytes": recording.size_bytes,
        "sha256": recording.sha256,
        "has_video": recording.has_video,
        "consent": {"date": _iso(recording.consent_date), "confirmed_at": _iso(recording.consent_confirmed_at),
                    "withdrawn_at": _iso(recording.consent_withdrawn_at)},
        "media_deleted_at": _iso(recording.media_deleted_at),
        "transcript_deleted_at": _iso(recording.transcript_deleted_at),
        "deleted": await _tombstone(recording),
        **job_json(await latest_job(recording)),
        "links": {
            "self": url("api:recording", recording_id=recording.id),
            "transcript": url("api:transcript", recording_id=recording.id),
            "media": url("api:media", recording_id=recording.id),
            "page": url("recording", recording_id=recording.id),
        },
    }


def case_json(request: Request, case: Case) -> dict:
    url = request.app.url_path_for
    return {
        "id": case.id,
        "code": case.code,
        "trainee": user_json(case.trainee),
        "created_at": case.created_at.isoformat(),
        "links": {"self": url("api:case", case_id=case.id), "page": url("case", case_id=case.id)},
    }


async def sessions_json(request: Request, slots: list[SessionSlot]) -> list[dict]:
    """All sixteen sessions, each with its phase and current recording (or None)."""
    return [
        {"number": slot.number, "phase": slot.phase.value,
         "recording": await recording_json(request, slot.recording) if slot.recording else None}
        for slot in slots
    ]


async def queue_json(request: Request, user: User) -> list[dict]:
    """What awaits the supervisor's rating, oldest assignment first."""
    return [{
        **await recording_json(request, entry.recording),
        "quality_flag": entry.quality_flag,
        "case_code": entry.recording.session.case.code,
        "assigned_at": entry.assignment.created_at.isoformat(),
        "my_rating": entry.my_rating.status.value if entry.my_rating else None,
    } for entry in await queue_for(user)]


def _when(value) -> str | None:
    return value.isoformat() if value else None


def session_json(session: UserSession, *, current: bool) -> dict:
    return {"id": session.id, "created_at": _when(session.created_at), "last_used_at": _when(session.last_seen_at),
            "expires_at": _when(session.expires_at), "address": session.address, "user_agent": session.user_agent,
            "current": current}


def token_json(token: ApiToken, *, current: bool) -> dict:
    return {"id": token.id, "created_at": _when(token.created_at), "created_from": token.created_from,
            "last_used_at": _when(token.last_used_at), "last_used_from": token.last_used_from,
            "expires_at": _when(token.expires_at), "current": current}


def account_json(user: User, *, accreditation_current: bool) -> dict:
    """An account as admins and course leads see it."""
    return {**user_json(user), "active": user.is_active, "cohort": user.cohort,
            "supervisors": [s.username for s in user.supervisors],
            "accredited": user.accredited, "accredited_on": _when(user.accredited_on),
            "accreditation_current": accreditation_current, "last_sign_in_at": _when(user.last_sign_in_at),
            "mfa": user.mfa_enabled_at is not None, "deactivated_at": _when(user.deactivated_at)}


def password_link_url(request: Request, secret: str) -> str:
    """The one-time set-password link in full, to send to its owner."""
    return str(request.url_for("password_link", secret=secret))
