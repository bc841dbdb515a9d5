"""Signing in: throttled password checks, the second factor, page sessions and API tokens.

Attempts are kept in the database, so every web process throttles alike: after 5 failures for one
account, or 20 from one address, within 15 minutes, further attempts are refused until the oldest
counted failure leaves the window; a success clears the account's count. Sessions and tokens are kept
as hashes of random secrets, so each can be listed and ended at once.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from server import access, audit_trail
from server.clock import now
from server.config import Settings
from server.errors import Invalid, MfaEnrolmentRequired, NotFound, Throttled, Unauthenticated
from server.models import ApiToken, EndReason, SignInAttempt, User, UserSession
from server.security import (
    hash_password,
    hash_secret,
    new_secret,
    password_needs_rehash,
    use_recovery_code,
    verify_password,
    verify_totp,
)

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
MAX_USERNAME = 64
MAX_PASSWORD = 256
# A session's or token's last use is written at most this often (or when the address changes): a
# write per request would serialise SQLite.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded with sessions, tokens and attempts."""

    address: str
    user_agent: str = ""


def check_credentials_shape(username: str, password: str) -> None:
    if not username or not password:
        raise Invalid("Send a username and a password.")
    if len(username) > MAX_USERNAME:
        raise Invalid(f"A username has at most {MAX_USERNAME} characters.")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"A password has at most {MAX_PASSWORD} characters.")


def _retry_after(oldest: datetime, at: datetime) -> int:
    return max(1, math.ceil((oldest + WINDOW - at).total_seconds()))


async def claim_attempt(username: str, client: Client) -> SignInAttempt:
    """Count this attempt as a failure before checking anything, so that attempts arriving together
    cannot all pass the throttle before any failure is saved; a right answer takes it back (`withdraw`).
    `Throttled` (and the attempt not counted) while the account or the address has used up its failures:
    only the failures saved before this one count, in the order the database gave them ids."""
    attempt = await SignInAttempt.create(username=username[:MAX_USERNAME], address=client.address[:64],
                                         succeeded=False)
    at = now()
    since = at - WINDOW
    last_success = await SignInAttempt.filter(username=attempt.username, succeeded=True, at__gte=since).order_by(
        "-id").first()
    earlier = SignInAttempt.filter(succeeded=False, id__lt=attempt.id, at__gte=since)
    for query, limit in ((earlier.filter(username=attempt.username,
                                         id__gt=last_success.id if last_success else 0), ACCOUNT_LIMIT),
                         (earlier.filter(address=attempt.address), ADDRESS_LIMIT)):
        counted = await query.order_by("-id").limit(limit).values_list("at", flat=True)
        if len(counted) >= limit:
            await SignInAttempt.filter(id=attempt.id).delete()
            seconds = _retry_after(min(counted), at)
            raise Throttled(_throttle_message(seconds), seconds)
    return attempt


async def withdraw(attempt: SignInAttempt) -> None:
    """A right answer was given: it is no failure."""
    await SignInAttempt.filter(id=attempt.id).delete()


def _throttle_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return (f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            "or ask an administrator to reset your password.")


async def check_password(username: str, password: str, client: Client) -> User:
    """The active user with this name and password, counted against the throttle; `Unauthenticated`
    otherwise. The Argon2 check runs off the event loop, so guessing cannot slow other users."""
    check_credentials_shape(username, password)
    attempt = await claim_attempt(username, client)
    user = await User.get_or_none(username=username, is_active=True)
    # A failure is recorded against the account it tried (the trail names no unknown username: it may be a password).
    audit_trail.note(user=user)
    if not await asyncio.to_thread(verify_password, user.password_hash if user else None, password):
        raise Unauthenticated("Wrong username or password.")
    # Not yet a success: with a second factor, the sign-in succeeds only once the code is right.
    await withdraw(attempt)
    if password_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
        await user.save(update_fields=["password_hash"])
    return user


def mfa_enabled(user: User) -> bool:
    return user.mfa_enabled_at is not None


def mfa_required(user: User, settings: Settings) -> bool:
    return user.role.value in settings.mfa_required_roles


def require_mfa_enrolled(user: User, settings: Settings) -> None:
    if mfa_required(user, settings) and not mfa_enabled(user):
        raise MfaEnrolmentRequired("Your role signs in with a second factor: set up an authenticator app on your "
                                   "account page first.")


async def check_second_factor(user: User, code: str, client: Client) -> None:
    """A code from the user's authenticator app, or one of their recovery codes (used up by this)."""
    audit_trail.note(user=user)
    attempt = await claim_attempt(user.username, client)
    code = (code or "").strip()
    counter = verify_totp(user.mfa_secret, code, last_counter=user.mfa_last_counter) if len(code) <= 16 else None
    if counter is not None:
        user.mfa_last_counter = counter
        await user.save(update_fields=["mfa_last_counter"])
        await withdraw(attempt)
        return
    remaining = use_recovery_code(code, user.recovery_codes) if len(code) <= 32 else None
    if remaining is not None:
        user.recovery_codes = remaining
        await user.save(update_fields=["recovery_codes"])
        await withdraw(attempt)
        return
    raise Unauthenticated("That code is not right (or was used already). Use the current code from your "
                          "authenticator app, or a recovery code.")


async def signed_in(user: User, client: Client) -> None:
    """A sign-in completed: it clears the account's failure count."""
    await SignInAttempt.create(username=user.username, address=client.address[:64], succeeded=True)
    user.last_sign_in_at = now()
    await user.save(update_fields=["last_sign_in_at"])


# --- page sessions -----------------------------------------------------------------------------


async def start_session(user: User, settings: Settings, client: Client) -> str:
    """A new session; returns the key for the cookie (only its hash is stored)."""
    key, key_hash = new_secret()
    at = now()
    await UserSession.create(user=user, key_hash=key_hash, last_seen_at=at,
                             expires_at=at + timedelta(hours=settings.session_hours),
                             address=client.address[:64], user_agent=client.user_agent[:255])
    return key


def _live(settings: Settings) -> Q:
    at = now()
    return Q(ended_at__isnull=True, expires_at__gt=at,
             last_seen_at__gt=at - timedelta(minutes=settings.session_idle_minutes))


async def session_for(key: str, settings: Settings) -> UserSession | None:
    """The live session with this key (not ended, idle or past its lifetime) of an active user."""
    session = await UserSession.filter(_live(settings), key_hash=hash_secret(key)).select_related("user").first()
    if session is None or not session.user.is_active:
        return None
    at = now()
    if at - session.last_seen_at >= TOUCH_EVERY:
        await UserSession.filter(id=session.id).update(last_seen_at=at)
    return session


async def live_sessions(user: User, settings: Settings) -> list[UserSession]:
    return await UserSession.filter(_live(settings), user=user).order_by("-last_seen_at")


async def end_session(session_id: int, reason: EndReason) -> None:
    await UserSession.filter(id=session_id, ended_at__isnull=True).update(ended_at=now(), end_reason=reason)


async def end_own_session(user: User, session_id: int) -> None:
    if not (access.possible_id(session_id) and await UserSession.exists(id=session_id, user=user)):
        raise NotFound("No such session.")
    await end_session(session_id, EndReason.REVOKED)


async def end_sessions(user: User, reason: EndReason) -> None:
    await UserSession.filter(user=user, ended_at__isnull=True).update(ended_at=now(), end_reason=reason)


# --- API tokens --------------------------------------------------------------------------------


async def issue_token(user: User, settings: Settings, client: Client) -> tuple[str, ApiToken]:
    token, token_hash = new_secret()
    row = await ApiToken.create(user=user, token_hash=token_hash, created_from=client.address[:64],
                                expires_at=now() + timedelta(days=settings.token_days))
    return token, row


async def token_for(token: str, client: Client) -> ApiToken | None:
    """The live token (not revoked or expired) of an active user; its last use is recorded."""
    at = now()
    row = await ApiToken.filter(token_hash=hash_secret(token), revoked_at__isnull=True,
                                expires_at__gt=at).select_related("user").first()
    if row is None or not row.user.is_active:
        return None
    address = client.address[:64]
    if row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY or row.last_used_from != address:
        await ApiToken.filter(id=row.id).update(last_used_at=at, last_used_from=address)
    return row


async def live_tokens(user: User) -> list[ApiToken]:
    return await ApiToken.filter(user=user, revoked_at__isnull=True, expires_at__gt=now()).order_by("-created_at")


async def revoke_own_token(user: User, token_id: int) -> None:
    if not (access.possible_id(token_id)
            and await ApiToken.filter(id=token_id, user=user, revoked_at__isnull=True).update(revoked_at=now())):
        raise NotFound("No such token.")


async def revoke_tokens(user: User) -> None:
    await ApiToken.filter(user=user, revoked_at__isnull=True).update(revoked_at=now())
