"""The sealed-file format and the master key file (server/security/): what opens, and every change that
must not."""

from __future__ import annotations

import io
import os

import pytest

from server.security.envelope import (
    CHUNK,
    HEADER,
    SEALED_CHUNK,
    Envelope,
    SealError,
    new_data_key,
    plain_size,
    sealed_size,
)
from server.security.keyring import Keyring, KeyringError, MasterKey, generate_file, keyring_at


def seal(envelope: Envelope, data: bytes) -> bytes:
    out = io.BytesIO()
    envelope.seal_stream(io.BytesIO(data), out)
    return out.getvalue()


def opened(envelope: Envelope, sealed: bytes) -> bytes:
    out = io.BytesIO()
    envelope.open_stream(io.BytesIO(sealed), out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5])
def test_every_size_round_trips_and_its_sealed_size_is_known(size):
    envelope = Envelope(new_data_key())
    data = os.urandom(size)
    sealed = seal(envelope, data)
    assert len(sealed) == sealed_size(size) and plain_size(len(sealed)) == size
    assert opened(envelope, sealed) == data
    # Two seals of the same bytes differ (a random nonce prefix per file).
    assert seal(envelope, data) != sealed


def test_any_change_to_a_sealed_file_is_refused():
    envelope = Envelope(new_data_key())
    sealed = seal(envelope, os.urandom(3 * CHUNK + 100))
    chunk = [sealed[HEADER + i * SEALED_CHUNK:HEADER + (i + 1) * SEALED_CHUNK] for i in range(4)]
    flipped = bytearray(sealed)
    flipped[HEADER + SEALED_CHUNK + 10] ^= 1
    changes = {
        "a flipped bit": bytes(flipped),
        "two chunks swapped": sealed[:HEADER] + chunk[1] + chunk[0] + chunk[2] + chunk[3],
        "cut at a chunk boundary": sealed[:HEADER + 3 * SEALED_CHUNK],
        "a chunk dropped": sealed[:HEADER] + chunk[0] + chunk[2] + chunk[3],
        "another nonce prefix": sealed[:HEADER - 1] + bytes([sealed[HEADER - 1] ^ 1]) + sealed[HEADER:],
        "bytes appended": sealed + b"\0" * 32,
    }
    for name, changed in changes.items():
        with pytest.raises(SealError):
            opened(envelope, changed)
            pytest.fail(name)
    with pytest.raises(SealError):
        opened(Envelope(new_data_key()), sealed)
    with pytest.raises(SealError, match="not sealed"):
        opened(envelope, b"RIFF" + bytes(100))


def test_a_sealed_value_opens_only_under_its_key_and_context():
    envelope = Envelope(new_data_key())
    sealed = envelope.seal_value(b'{"segments": []}', "transcript")
    assert envelope.open_value(sealed, "transcript") == b'{"segments": []}'
    for other, context in ((envelope, "comment"), (Envelope(new_data_key()), "transcript")):
        with pytest.raises(SealError):
            other.open_value(sealed, context)


def test_a_data_key_unwraps_only_for_its_recording_and_under_a_key_in_the_file(tmp_path):
    path = tmp_path / "master.key"
    first = generate_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    ring = keyring_at(path)
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key, "recording-a")
    assert key_id == first.id and ring.unwrap(key_id, wrapped, "recording-a") == data_key
    with pytest.raises(KeyringError, match="belongs to another recording"):
        ring.unwrap(key_id, wrapped, "recording-b")
    # A rotated file: the new key wraps, the earlier one still unwraps; the file is read again when it changes.
    Keyring((MasterKey.generate(), first)).write(path)
    rotated = keyring_at(path)
    assert rotated is not ring and rotated.active.id != first.id
    assert rotated.unwrap(key_id, wrapped, "recording-a") == data_key
    Keyring((rotated.active,)).write(path)
    with pytest.raises(KeyringError, match="not in DIT_ENCRYPTION_KEY_FILE"):
        keyring_at(path).unwrap(key_id, wrapped, "recording-a")


@pytest.mark.parametrize("text, message", [
    ("", "holds no key"),
    ("# only a comment\n", "holds no key"),
    ("not-a-key\n", "begins 'dit-master-key:'"),
    ("dit-master-key:!!!\n", "not base64"),
    ("dit-master-key:AAAA\n", "32 bytes, this one 3"),
])
def test_a_key_file_that_cannot_be_used_says_why(tmp_path, text, message):
    path = tmp_path / "master.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=message):
        Keyring.read(path)
