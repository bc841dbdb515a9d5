"""The audit trail: one row for every access to clinical data and every change, chained by SHA-256.

Rows are only ever added (server/audit.py writes them; nothing updates or deletes them). Each row's
`hash` covers its own fields and the previous row's hash, which it also keeps in `previous`; as
`previous` is unique, two rows can never chain onto the same one, so the trail is a single line
whichever process writes to it, and an edited, removed or inserted row breaks the line
(`dit audit verify`).
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class AuditAction(str, Enum):
    VIEW = "view"
    PLAY = "play"
    DOWNLOAD = "download"
    EXPORT = "export"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    MFA = "mfa"


class AuditObject(str, Enum):
    """What was read or changed. For a transcript, media and suggestion, `object_id` is their recording's id."""

    CASE = "case"
    RECORDING = "recording"
    TRANSCRIPT = "transcript"
    MEDIA = "media"
    RATING = "rating"
    SUGGESTION = "suggestion"
    IPAF = "ipaf"
    EXPORT = "export"
    AGREEMENT_REPORT = "agreement_report"
    PROGRESS = "progress"
    ACCOUNT = "account"
    SESSION = "session"
    QUEUE = "queue"
    AUDIT_TRAIL = "audit_trail"


class AuditOutcome(str, Enum):
    ALLOWED = "allowed"
    # Not signed in, not allowed, or nothing this user may see (a 404 does not say which).
    REFUSED = "refused"
    # Allowed, but the request itself was wrong (a 4xx other than a refusal), or the service failed (5xx).
    INVALID = "invalid"
    FAILED = "failed"


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    # The actor as they were then: names and roles change, accounts are deactivated, the row must still say.
    user_id = fields.IntField(null=True, db_index=True)
    username = fields.CharField(max_length=64, default="")
    role = fields.CharField(max_length=16, default="")
    action = fields.CharEnumField(AuditAction, max_length=16)
    object = fields.CharEnumField(AuditObject, max_length=20)
    object_id = fields.BigIntField(null=True)
    # What the object belongs to, for "who has accessed this recording" and a case's subject-access export.
    case_id = fields.IntField(null=True, db_index=True)
    recording_id = fields.IntField(null=True, db_index=True)
    outcome = fields.CharEnumField(AuditOutcome, max_length=10)
    status = fields.SmallIntField(null=True)
    route = fields.CharField(max_length=64, default="")
    address = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=255, default="")
    previous = fields.CharField(max_length=64, unique=True)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_event"
