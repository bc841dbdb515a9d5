"""Multi-factor sign-in (TOTP, RFC 6238): enrolment with a QR code, ten single-use recovery codes,
and the admin's reset for a lost phone."""

from __future__ import annotations

from dataclasses import dataclass

from server import access
from server.clock import now
from server.errors import Conflict, Unprocessable
from server.models import User
from server.security import new_recovery_codes, new_totp_secret, provisioning_uri, qr_svg, verify_totp


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code to scan, and the secret to type in instead."""

    secret: str
    uri: str
    qr_svg: str


async def begin(user: User) -> Enrolment:
    """A new secret awaiting confirmation (kept on the account, not yet used for sign-in)."""
    if user.mfa_enabled_at is not None:
        raise Conflict("Multi-factor sign-in is already set up; turn it off first to set up another app.")
    if not user.mfa_secret:
        user.mfa_secret = new_totp_secret()
        await user.save(update_fields=["mfa_secret"])
    uri = provisioning_uri(user.mfa_secret, user.username)
    return Enrolment(user.mfa_secret, uri, qr_svg(uri))


async def confirm(user: User, code: str) -> list[str]:
    """The first code from the app turns MFA on; returns the recovery codes, shown once."""
    if user.mfa_enabled_at is not None:
        raise Conflict("Multi-factor sign-in is already set up.")
    if not user.mfa_secret:
        raise Conflict("Start setting up multi-factor sign-in first.")
    counter = verify_totp(user.mfa_secret, str(code or "")[:16], last_counter=None)
    if counter is None:
        raise Unprocessable("That code is not right: type the 6 digits your app shows now.",
                            {"code": "Not right."})
    codes, hashes = new_recovery_codes()
    user.mfa_enabled_at, user.mfa_last_counter, user.recovery_codes = now(), counter, hashes
    await user.save(update_fields=["mfa_enabled_at", "mfa_last_counter", "recovery_codes"])
    return codes


async def reset(actor: User | None, user: User) -> None:
    """Off, so that the user sets it up again at their next sign-in (a lost phone). The user themselves
    (when their role does not require it), an admin, or the command line (`actor` None)."""
    if actor is not None and actor.id != user.id:
        access.require_may_manage_accounts(actor)
    user.mfa_secret = user.mfa_enabled_at = user.mfa_last_counter = None
    user.recovery_codes = []
    await user.save(update_fields=["mfa_secret", "mfa_enabled_at", "mfa_last_counter", "recovery_codes"])
