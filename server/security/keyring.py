"""The master keys that wrap each recording's data key (envelope encryption), from the file that
`DIT_ENCRYPTION_KEY_FILE` names.

The file holds one key a line, `dit-master-key:<32 bytes, URL-safe base64>` (blank lines and `#` comments
are ignored). The first is the active key: new data keys are wrapped under it. Any others are earlier
keys, kept only to unwrap data keys that `dit keys rotate` has not re-wrapped yet; `dit keys retire`
removes them. A key is known by its id, a fingerprint that says nothing of the key itself.

A data key is wrapped with AES-256-GCM under the master key, its recording's storage key as associated
data: a wrapped key copied into another recording's row does not open there.

The file is read again whenever it changes on disk, so a rotation reaches running services without a
restart; a key file readable by others than its owner is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.security.envelope import KEY_BYTES, NONCE

PREFIX = "dit-master-key:"


class KeyringError(RuntimeError):
    """The key file cannot be used, or holds no key that opens a recording's data key."""


@dataclass(frozen=True)
class MasterKey:
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=8 * KEY_BYTES))

    @property
    def id(self) -> str:
        return hashlib.sha256(b"dit master key id\0" + self.secret).hexdigest()[:16]

    def line(self) -> str:
        return PREFIX + base64.urlsafe_b64encode(self.secret).decode()


@dataclass(frozen=True)
class Keyring:
    keys: tuple[MasterKey, ...]

    @property
    def active(self) -> MasterKey:
        return self.keys[0]

    def key(self, key_id: str) -> MasterKey:
        for key in self.keys:
            if key.id == key_id:
                return key
        raise KeyringError(f"The data key was wrapped under master key {key_id}, which is not in "
                           "DIT_ENCRYPTION_KEY_FILE: was the key file replaced rather than rotated?")

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        """(the active key's id, the data key wrapped under it)."""
        nonce = os.urandom(NONCE)
        return self.active.id, nonce + AESGCM(self.active.secret).encrypt(nonce, data_key, context.encode())

    def unwrap(self, key_id: str, wrapped: bytes, context: str) -> bytes:
        try:
            return AESGCM(self.key(key_id).secret).decrypt(wrapped[:NONCE], wrapped[NONCE:], context.encode())
        except InvalidTag:
            raise KeyringError(f"A data key wrapped under master key {key_id} does not open: "
                               "it was altered or belongs to another recording.") from None

    # --- the file -----------------------------------------------------------------------------------

    @classmethod
    def read(cls, path: Path) -> Keyring:
        try:
            mode = path.stat().st_mode
            text = path.read_text()
        except OSError as exc:
            raise _unreadable(path, exc) from None
        if stat.S_IMODE(mode) & 0o077:
            raise KeyringError(f"DIT_ENCRYPTION_KEY_FILE {path} is readable by others than its owner; "
                               f"run: chmod 600 {path}")
        keys = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            keys.append(_parse(line, path, number))
        if not keys:
            raise KeyringError(f"DIT_ENCRYPTION_KEY_FILE {path} holds no key; make one with: dit keys generate {path}")
        return cls(tuple(keys))

    def write(self, path: Path) -> None:
        """Replace the file whole (a crash leaves the old one or the new one), owner-only."""
        lines = ["# DIT master keys: the first wraps new data keys; any others are kept until `dit keys retire`.",
                 *(key.line() for key in self.keys)]
        partial = path.with_name(f".{path.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write("\n".join(lines) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)


def _unreadable(path: Path, exc: OSError) -> KeyringError:
    return KeyringError(f"DIT_ENCRYPTION_KEY_FILE {path} cannot be read: {exc.strerror}.")


def _parse(line: str, path: Path, number: int) -> MasterKey:
    where = f"DIT_ENCRYPTION_KEY_FILE {path}, line {number}"
    if not line.startswith(PREFIX):
        raise KeyringError(f"{where}: a key line begins '{PREFIX}'.")
    try:
        secret = base64.b64decode(line[len(PREFIX):], altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{where}: the key is not base64.") from None
    if len(secret) != KEY_BYTES:
        raise KeyringError(f"{where}: a key is {KEY_BYTES} bytes, this one {len(secret)}.")
    return MasterKey(secret)


_read: dict[Path, tuple[tuple, Keyring]] = {}


def keyring_at(path: Path | None) -> Keyring | None:
    """The keyring in the file at `path` (None when no file is configured), read again when the file
    changes: a rotation is seen by the next request or job."""
    if path is None:
        return None
    try:
        found = path.stat()
    except OSError as exc:
        raise _unreadable(path, exc) from None
    version = (found.st_ino, found.st_mtime_ns, found.st_size, found.st_mode)
    cached = _read.get(path)
    if cached is None or cached[0] != version:
        _read[path] = (version, Keyring.read(path))
    return _read[path][1]


def generate_file(path: Path) -> MasterKey:
    """A new key file holding one new key; an existing file is never overwritten."""
    if path.exists():
        raise KeyringError(f"{path} already exists; `dit keys rotate` adds a key to a key file.")
    key = MasterKey.generate()
    Keyring((key,)).write(path)
    return key
