"""Recovery codes: single-use codes that stand in for the authenticator app when it is lost."""

from __future__ import annotations

import hmac
import re
import secrets

from server.security.tokens import hash_secret

# Lower-case letters and digits without those read alike (0/o, 1/l/i): 31 symbols, so each
# "xxxxxx-xxxxxx" code carries about 59 bits: too many to try offline against a leaked hash, which is
# why a plain SHA-256 of it is enough (and it is only worth anything together with the password).
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
HALF_LENGTH = 6


def new_recovery_codes(n: int = 10) -> tuple[list[str], list[str]]:
    """Return (codes to show the user once, their hashes to store)."""
    codes = [_new_code() for _ in range(n)]
    return codes, [hash_secret(_normalise(code)) for code in codes]


def use_recovery_code(code: str, hashes: list[str]) -> list[str] | None:
    """The hashes left once `code` is spent, or None when it matches none of them.

    Every stored hash is compared, in constant time, so the time taken says nothing about which matched.
    """
    submitted = hash_secret(_normalise(code))
    matched = [hmac.compare_digest(submitted, stored) for stored in hashes]
    if not any(matched):
        return None
    spent = matched.index(True)
    return hashes[:spent] + hashes[spent + 1:]


def _new_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(2 * HALF_LENGTH))
    return f"{symbols[:HALF_LENGTH]}-{symbols[HALF_LENGTH:]}"


def _normalise(code: str) -> str:
    """People copy codes with other case, spaces or without the dash."""
    return re.sub(r"[\s-]", "", code).lower()
