"""Accounts and signing in: users and their roles, API tokens, page sessions, sign-in attempts, password links."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Role(str, Enum):
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"
    COURSE_LEAD = "course_lead"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    accredited = fields.BooleanField(default=False)
    accredited_on = fields.DateField(null=True)
    # The training group a trainee belongs to (e.g. "2026 spring"), for the agreement audit's filters.
    cohort = fields.CharField(max_length=64, null=True)
    # Where notifications are emailed (when DIT_SMTP_URL is set), and the kinds the person chose not to get
    # by email (server/models/notifications.py); every kind is still listed in the service.
    email = fields.CharField(max_length=254, null=True)
    email_opt_out = fields.JSONField(default=list, db_default=[])
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)
    deactivated_at = fields.DatetimeField(null=True)
    # TOTP: the shared secret once enrolment is confirmed, the last time step used (a code is good
    # once), and the SHA-256 of each unused recovery code.
    mfa_secret = fields.CharField(max_length=64, null=True)
    mfa_enabled_at = fields.DatetimeField(null=True)
    mfa_last_counter = fields.BigIntField(null=True)
    recovery_codes = fields.JSONField(default=list, db_default=[])
    supervisors: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="supervisees", through="supervision"
    )

    class Meta:
        table = "user"

    # Starlette's AuthenticationMiddleware puts this object on request.user.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="tokens")
    # Only a hash is stored: a leaked database does not leak working tokens.
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_from = fields.CharField(max_length=64, null=True)
    last_used_at = fields.DatetimeField(null=True)
    last_used_from = fields.CharField(max_length=64, null=True)
    # A token without an expiry (made before tokens expired) is refused.
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)


class EndReason(str, Enum):
    """Why a signed-in session ended before its time."""

    SIGNED_OUT = "signed_out"
    REVOKED = "revoked"
    PASSWORD_CHANGED = "password_changed"
    DEACTIVATED = "deactivated"


class UserSession(Model):
    """One sign-in to the pages. The cookie carries a random id whose SHA-256 is kept here, so that a
    session can be listed and ended at once (sign-out, revocation, password change, deactivation)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="sessions")
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    address = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=255, default="")
    ended_at = fields.DatetimeField(null=True)
    end_reason = fields.CharEnumField(EndReason, max_length=16, null=True)

    class Meta:
        table = "user_session"


class SignInAttempt(Model):
    """Every sign-in attempt, kept in the database so that every web process throttles alike."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, db_index=True)
    address = fields.CharField(max_length=64, db_index=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    succeeded = fields.BooleanField()

    class Meta:
        table = "sign_in_attempt"


class PasswordLink(Model):
    """A one-time link to set a password: for a new account, or after a reset. Only its hash is kept."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="password_links")
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="password_links_made", null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_link"
