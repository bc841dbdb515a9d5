"""Password hashing (argon2id) and the password policy (NIST SP 800-63B: length and guessability, no
composition rules)."""

from __future__ import annotations

import re
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
# Argon2 hashes whatever it is given; a cap keeps one sign-in attempt from costing more than it should.
MAX_LENGTH = 256
# zxcvbn's authors advise judging only the start of a long password: its matching grows quickly with length.
JUDGED_LENGTH = 100
# zxcvbn's 0-4 scale; 3 is "safely unguessable: moderate protection from offline slow-hash scenario".
MIN_SCORE = 3
# A user name this short (e.g. "jo") occurs by chance inside good passphrases.
MIN_USERNAME_CHECKED = 3

_hasher = PasswordHasher()

# Verifying against this when the user does not exist keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("not a password anyone has")

# zxcvbn keeps the user inputs in a module-level dictionary between building and matching, so two
# threads judging at once could see each other's names.
_zxcvbn_lock = threading.Lock()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other argon2 parameters than today's, so that a successful sign-in
    should store a fresh one."""
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, username: str, name: str = "") -> str | None:
    """What is wrong with a new password, as a sentence the user can act on; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return (f"Use at least {MIN_LENGTH} characters: a few unrelated words make a long password "
                "that is easy to remember.")
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if len(username) >= MIN_USERNAME_CHECKED and username.casefold() in password.casefold():
        return "Leave your user name out of your password."
    judged = password[:JUDGED_LENGTH]
    with _zxcvbn_lock:
        result = zxcvbn(judged, user_inputs=_personal_words(username, name), max_length=len(judged))
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    advice = [feedback["warning"] or "This password would be easy to guess.", *feedback["suggestions"]]
    return " ".join(advice)


def _personal_words(username: str, name: str) -> list[str]:
    """What an attacker who knows the person would try: the user name, the name, its words, and the
    words run together ("Jane Smith" -> "jane", "smith", "janesmith")."""
    words = re.findall(r"\w+", name)
    return [word for word in (username, name, *words, "".join(words)) if word]
