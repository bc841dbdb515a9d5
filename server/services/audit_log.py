"""Reading the audit trail: filters, who may read which rows, and the rows as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from server import access
from server.errors import Forbidden, Invalid
from server.models import AuditAction, AuditEvent, User
from server.services.parsing import query_date

COLUMNS = ("at", "user", "role", "action", "object", "object_id", "case", "recording", "outcome", "status",
           "address", "user_agent")
PAGE_ROWS = 500


@dataclass(frozen=True)
class Filters:
    recording: int | None = None
    case: int | None = None
    user: str | None = None
    action: AuditAction | None = None
    start: date | None = None
    end: date | None = None


def _id(value: str | None, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not access.possible_id(int(value)):
        raise Invalid(f"'{name}' is a number (an id), not {value[:20]!r}.")
    return int(value)


def parse_filters(params) -> Filters:
    """The filters of a query string or form (`from` and `to` are whole days, both included)."""
    action = params.get("action") or None
    if action is not None and action not in {a.value for a in AuditAction}:
        raise Invalid(f"'action' is one of {', '.join(a.value for a in AuditAction)}.")
    filters = Filters(recording=_id(params.get("recording"), "recording"), case=_id(params.get("case"), "case"),
                      user=(params.get("user") or "").strip()[:64] or None,
                      action=AuditAction(action) if action else None,
                      start=query_date(params, "from"), end=query_date(params, "to"))
    if filters.start and filters.end and filters.start > filters.end:
        raise Invalid("'from' is after 'to'.")
    return filters


async def require_may_read(user: User, filters: Filters) -> None:
    """Admins read the whole trail; a recording's own trainee and course leads read that recording's rows."""
    if access.may_read_audit_trail(user):
        return
    if filters.recording is None:
        raise Forbidden("The audit trail is for admins; a recording's trainee and course leads can see "
                               "who has accessed that recording.")
    recording = await access.readable_recording(user, filters.recording)
    access.require_may_see_who_accessed(user, recording)


async def events(filters: Filters, limit: int | None = PAGE_ROWS) -> list[AuditEvent]:
    """The rows that match, newest first."""
    query = AuditEvent.all()
    if filters.recording is not None:
        query = query.filter(recording_id=filters.recording)
    if filters.case is not None:
        query = query.filter(case_id=filters.case)
    if filters.user is not None:
        query = query.filter(username=filters.user)
    if filters.action is not None:
        query = query.filter(action=filters.action)
    if filters.start is not None:
        query = query.filter(at__gte=datetime.combine(filters.start, time(), UTC))
    if filters.end is not None:
        query = query.filter(at__lt=datetime.combine(filters.end + timedelta(days=1), time(), UTC))
    query = query.order_by("-id")
    return await (query.limit(limit) if limit else query)


def row(event: AuditEvent) -> dict:
    return {"at": event.at.astimezone(UTC).isoformat(), "user": event.username or None, "role": event.role or None,
            "action": event.action.value, "object": event.object.value, "object_id": event.object_id,
            "case": event.case_id, "recording": event.recording_id, "outcome": event.outcome.value,
            "status": event.status, "address": event.address, "user_agent": event.user_agent}
