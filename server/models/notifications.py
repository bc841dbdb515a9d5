"""What people are told: one row per person per event, read in the service's notification list and,
when mail is configured and the person wants it, sent by email (the row is the outbox)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from server.models.accounts import User


class NotificationKind(str, Enum):
    ASSIGNED = "assigned"
    REOPENED = "reopened"
    ADJUDICATION_NEEDED = "adjudication_needed"
    RELEASED = "released"
    DEADLINE = "deadline"
    TRANSCRIPTION_FAILED = "transcription_failed"


class EmailState(str, Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"  # no mail server, no address, or the person chose not to have this kind by email
    FAILED = "failed"


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="notifications")
    kind = fields.CharEnumField(NotificationKind, max_length=24)
    # A path within the service (/recordings/12/rate): never a name or any clinical content.
    link = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    email = fields.CharEnumField(EmailState, max_length=8, default=EmailState.SKIPPED)
    email_attempts = fields.SmallIntField(default=0)
