"""The errors services raise. They know nothing of HTTP; `server.web.app` maps each to its status
code and the same `{"error": …}` body (or error page) for every route."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Something the caller asked for cannot be done; `message` says why, in words a user can act on."""

    status_code = 400

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.detail = message
        # Per-field problems (a rating form's items), shown beside each field.
        self.errors = dict(errors) if errors else None


class Invalid(DomainError):
    """The request's values cannot be used (a bad date, a missing field)."""

    status_code = 400


class Unauthenticated(DomainError):
    """Not signed in, or the credentials given are wrong."""

    status_code = 401


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it."""

    status_code = 403


class NotFound(DomainError):
    """No such thing, or one the caller may not see: its existence is not disclosed."""

    status_code = 404


class Conflict(DomainError):
    """Not possible in the thing's present state (already submitted, not transcribed yet)."""

    status_code = 409


class Gone(DomainError):
    """It was here and was deleted on purpose (a recording's media or transcript): it will not come back."""

    status_code = 410


class TooLarge(DomainError):
    status_code = 413


class Unprocessable(DomainError):
    """Well-formed but wrong: not media, scores off the scale; `errors` says which field."""

    status_code = 422


class Throttled(DomainError):
    """Too many failed attempts: try again after `retry_after` seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class MfaEnrolmentRequired(Forbidden):
    """The user's role must sign in with a second factor, and they have not set one up yet."""
