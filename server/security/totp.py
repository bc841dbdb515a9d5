"""Time-based one-time passwords (RFC 6238) for a second sign-in factor, and the QR code that carries
the secret to an authenticator app."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timezone

import pyotp
import segno

ISSUER = "DIT supervision"
# Authenticator clocks drift, and a code typed at the end of its 30 seconds arrives in the next step.
DRIFT_STEPS = 1
_CODE = re.compile(r"[0-9]{6}")  # not \d, which takes other scripts' digits too


def new_totp_secret() -> str:
    """A random base32 secret of 160 bits, the length RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an <svg> element to put inline in a page: no XML declaration, no links
    to anything outside it, and a quiet zone around it so that phone cameras find it."""
    return segno.make_qr(uri).svg_inline(scale=4)


def verify_totp(secret: str, code: str, *, last_counter: int | None, at: datetime | None = None) -> int | None:
    """The time step whose code `code` is, within one step of `at` (default now), or None.

    A step at or before `last_counter` (the one last accepted for this user) is refused, so a code
    that was seen once cannot be replayed; the caller stores the returned step as the new last one.
    """
    code = re.sub(r"\s", "", code)
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at or datetime.now(timezone.utc))
    for counter in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_counter is not None and counter <= last_counter:
            continue
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None
