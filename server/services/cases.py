"""Training cases: opening one under a pseudonymous code, and its sixteen sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from rating.phases import SESSIONS_PER_CASE, Phase, phase_of
from server import access
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models import Case, Recording, Role, TherapySession, User

CASE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")


def check_case_code(code: str) -> str:
    code = (code or "").strip()
    if not CASE_CODE.fullmatch(code):
        raise Invalid("A case code is 2-32 letters, digits, '-' or '_', e.g. DIT-024.")
    if not any(ch.isdigit() for ch in code):
        # A rule that keeps patients' names out: a name has no digits.
        raise Invalid("A case code must contain a digit (e.g. DIT-024), so that it cannot be a patient's name.")
    return code


def check_session_number(number: int) -> int:
    if not 1 <= number <= SESSIONS_PER_CASE:
        raise NotFound(f"A DIT case has sessions 1 to {SESSIONS_PER_CASE}.")
    return number


async def create_case(user: User, code: str, trainee_username: str | None) -> Case:
    """A trainee opens their own case; a lead or admin names the trainee."""
    access.require_may_create_case(user)
    code = check_case_code(code)
    if user.role == Role.TRAINEE:
        if trainee_username and trainee_username != user.username:
            raise Forbidden("A trainee opens cases for themselves only.")
        trainee = user
    else:
        if not trainee_username:
            raise Invalid("Name the trainee whose case this is ('trainee': username).")
        trainee = await User.get_or_none(username=trainee_username, role=Role.TRAINEE, is_active=True)
        if trainee is None:
            raise Invalid(f"There is no trainee with the username '{trainee_username}'.")
    try:
        case = await Case.create(code=code, trainee=trainee)
    except IntegrityError as exc:
        raise Conflict(f"The case code '{code}' is already in use; choose another.") from exc
    case.trainee = trainee
    return case


@dataclass(frozen=True)
class SessionSlot:
    """One of a case's sixteen sessions, with its current recording if it has one."""

    number: int
    phase: Phase
    recording: Recording | None


async def case_sessions(case: Case) -> list[SessionSlot]:
    sessions = {s.number: s for s in await TherapySession.filter(case=case)}
    current = {
        r.session_id: r
        for r in await Recording.filter(session__case=case, is_current=True).select_related("session")
    }
    slots = []
    for number in range(1, SESSIONS_PER_CASE + 1):
        session = sessions.get(number)
        slots.append(SessionSlot(number, phase_of(number), current.get(session.id) if session else None))
    return slots
