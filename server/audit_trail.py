"""The audit trail: who read or changed which clinical record, when, from where, with what outcome.

A request's entry is opened by the web layer (server/web/trail.py) before the handler runs and kept in a
context variable; the access rules fill in what the request turned out to touch (`note`: the case, the
recording, the user signing in) as they decide; the entry is written, chained onto the previous row, when
the answer is known. Nothing here knows HTTP. No transcript text, file name or query string is ever part
of an entry: only ids, names of actions and objects, and the actor.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from server.models.audit import AuditAction, AuditEvent, AuditObject, AuditOutcome

GENESIS = "0" * 64
# Two writers that read the same last row both try to chain onto it; one wins, the other reads again.
CHAIN_ATTEMPTS = 50
# The fields a row's hash covers, in this order (its id, `previous` and `hash` are the chain itself).
HASHED = ("at", "user_id", "username", "role", "action", "object", "object_id", "case_id", "recording_id",
          "outcome", "status", "route", "address", "user_agent")


@dataclass
class Entry:
    """One audit row in the making."""

    action: AuditAction
    object: AuditObject
    object_id: int | None = None
    user_id: int | None = None
    username: str = ""
    role: str = ""
    case_id: int | None = None
    recording_id: int | None = None
    route: str = ""
    address: str = ""
    user_agent: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The status of the error a request was answered with, which the answer may not show: a signed-out
    # reader of a page is sent to the log-in page (303), and that is a refusal (401).
    error_status: int | None = None


_current: contextvars.ContextVar[Entry | None] = contextvars.ContextVar("audit_entry", default=None)


def begin(entry: Entry) -> contextvars.Token:
    return _current.set(entry)


def end(token: contextvars.Token) -> None:
    _current.reset(token)


def note(*, case_id: int | None = None, recording_id: int | None = None, object_id: int | None = None,
         user=None, action: AuditAction | None = None) -> None:
    """What the current request touched, as the access rules and services find out. Outside a request
    (the worker, a command) there is no entry and nothing to note."""
    entry = _current.get()
    if entry is None:
        return
    if case_id is not None:
        entry.case_id = case_id
    if recording_id is not None:
        entry.recording_id = recording_id
    if object_id is not None and entry.object_id is None:
        entry.object_id = object_id
    if user is not None and entry.user_id is None:
        attribute(entry, user)
    if action is not None:  # a read that turned out to be a download
        entry.action = action


def note_error(status: int) -> None:
    entry = _current.get()
    if entry is not None:
        entry.error_status = status


def attribute(entry: Entry, user) -> None:
    entry.user_id, entry.username, entry.role = user.id, user.username, user.role.value


def outcome_of(status: int) -> AuditOutcome:
    if status in (401, 403, 404, 410):
        return AuditOutcome.REFUSED
    if status >= 500:
        return AuditOutcome.FAILED
    if status >= 400:
        return AuditOutcome.INVALID
    return AuditOutcome.ALLOWED


def _canonical(values: dict) -> str:
    def plain(value):
        if isinstance(value, datetime):
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value.value if hasattr(value, "value") else value

    return json.dumps([plain(values[name]) for name in HASHED], ensure_ascii=False, separators=(",", ":"))


def row_hash(previous: str, values: dict) -> str:
    return hashlib.sha256(f"{previous}\n{_canonical(values)}".encode()).hexdigest()


async def record(entry: Entry, outcome: AuditOutcome, status: int | None = None) -> AuditEvent:
    """Append the entry to the trail, chained onto the last row."""
    values = {**asdict(entry), "outcome": outcome, "status": status}
    del values["error_status"]
    # Datetimes are kept to the microsecond by both databases: the hash is of what will be read back.
    values["at"] = values["at"].astimezone(UTC)
    for _ in range(CHAIN_ATTEMPTS):
        last = await AuditEvent.all().order_by("-id").limit(1).values_list("hash", flat=True)
        previous = last[0] if last else GENESIS
        try:
            return await AuditEvent.create(**values, previous=previous, hash=row_hash(previous, values))
        except IntegrityError:
            continue  # another writer chained onto the same row first
    raise RuntimeError("the audit trail is too busy to append to")


async def record_now(action: AuditAction, object: AuditObject, outcome: AuditOutcome = AuditOutcome.ALLOWED,
                     **fields) -> AuditEvent:
    """An entry outside a web request: a command changing accounts, the retention run deleting media."""
    return await record(Entry(action=action, object=object, **fields), outcome)


@dataclass(frozen=True)
class BrokenLink:
    """The first row whose hash is not what its fields and the row before it give."""

    event_id: int
    reason: str


async def _rows_in_order(batch: int = 2000) -> AsyncIterator[AuditEvent]:
    after = 0
    while rows := await AuditEvent.filter(id__gt=after).order_by("id").limit(batch):
        for row in rows:
            yield row
        after = rows[-1].id


async def verify() -> tuple[int, BrokenLink | None]:
    """Walk the trail from its first row: how many rows hold, and the first broken link (None if none)."""
    previous, count = GENESIS, 0
    async for row in _rows_in_order():
        values = {name: getattr(row, name) for name in HASHED}
        if row.previous != previous:
            return count, BrokenLink(row.id, "it does not follow the row before it (a row was removed or inserted)")
        if row.hash != row_hash(previous, values):
            return count, BrokenLink(row.id, "its contents changed after it was written")
        previous, count = row.hash, count + 1
    return count, None
