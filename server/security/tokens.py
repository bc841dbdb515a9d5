"""Secrets handed out once (API tokens, set-password and reset links) and the session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> tuple[str, str]:
    """Return (URL-safe secret for the client or the link, its hash for the database).

    The database keeps only the hash, so a copy of it cannot be used to sign in or reset a password.
    """
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    # A plain SHA-256 suffices: the secrets are random and 256 bits long, so there is nothing to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(session: dict) -> str:
    """The synchroniser token for this cookie session, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_matches(session: dict, submitted: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and submitted) and hmac.compare_digest(expected, submitted)
