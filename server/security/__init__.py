"""Secrets and their checks, as pure functions (no database, no HTTP): passwords and their policy,
one-time secrets and tokens, CSRF tokens, TOTP, recovery codes. Encryption at rest is in `envelope`
(the sealed format) and `keyring` (the master keys), imported from there."""

from server.security.passwords import hash_password, password_needs_rehash, password_problem, verify_password
from server.security.recovery import new_recovery_codes, use_recovery_code
from server.security.tokens import csrf_matches, csrf_token, hash_secret, new_secret
from server.security.totp import new_totp_secret, provisioning_uri, qr_svg, verify_totp

__all__ = [
    "csrf_matches", "csrf_token", "hash_password", "hash_secret", "new_recovery_codes", "new_secret",
    "new_totp_secret", "password_needs_rehash", "password_problem", "provisioning_uri", "qr_svg",
    "use_recovery_code", "verify_password", "verify_totp",
]
