"""Encryption at rest in the service: each recording's data key, wrapped by the master key in its row
(`Recording.key_id`, `Recording.data_key`); its transcript sealed under it; the data key destroyed
when the recording is deleted (crypto-shredding); master key rotation.

A recording uploaded while no key was configured has no key id: its files and transcript stay as they
were stored, and are read as they are. One whose data key was destroyed keeps its key id, so that what
might still be read of it is refused rather than taken for plain bytes.

Crypto-shredding makes copies of the recording's files (object storage versions, backups of the
bucket) unreadable at once. A backup of the database taken before the deletion still holds the wrapped
data key, until the master key it was wrapped under is retired: rotate and retire master keys at least
as often as database backups expire (see README, "Encryption at rest").
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from server.config import Settings
from server.errors import Gone
from server.models import Recording
from server.security.envelope import Envelope, new_data_key
from server.security.keyring import Keyring, KeyringError, MasterKey, keyring_at

SEALED = "sealed"
TRANSCRIPT = "transcript"
TRANSCRIPT_EDITS = "transcript edits"
# Rows re-wrapped per transaction by a rotation: each is a few microseconds of AES; short transactions
# keep uploads and deletions, which update the same rows, from waiting on a long one.
REWRAP_BATCH = 500


def keyring(settings: Settings) -> Keyring | None:
    return keyring_at(settings.encryption_key_file)


def check_keyring(settings: Settings) -> None:
    """At start-up: a configured key file that cannot be used stops the service before it stores
    anything in the clear or accepts an upload it cannot seal."""
    keyring(settings)


def new_recording_key(settings: Settings) -> bytes | None:
    """A fresh data key for an upload, or None when encryption is not configured."""
    return None if keyring(settings) is None else new_data_key()


def wrapped_fields(settings: Settings, data_key: bytes | None, storage_key: str) -> dict:
    """The recording row's key fields for `data_key`, wrapped under the active master key as it is now
    (read just before the row is written, so an upload that began before a rotation is not left under
    the previous key)."""
    if data_key is None:
        return {}
    key_id, wrapped = _required(settings).wrap(data_key, storage_key)
    return {"key_id": key_id, "data_key": wrapped}


def envelope_for(settings: Settings, recording: Recording) -> Envelope | None:
    """What opens the recording's files and transcript; None for a recording stored in the clear."""
    if recording.key_id is None:
        return None
    if recording.data_key is None:
        raise Gone("This recording's data key was destroyed when it was deleted; nothing of it can be read.")
    return Envelope(_required(settings).unwrap(recording.key_id, bytes(recording.data_key), recording.storage_key))


def _required(settings: Settings) -> Keyring:
    found = keyring(settings)
    if found is None:
        raise KeyringError("This recording is stored encrypted, and DIT_ENCRYPTION_KEY_FILE is not set.")
    return found


# --- transcripts ----------------------------------------------------------------------------------------


def seal_transcript(envelope: Envelope | None, data: dict, context: str = TRANSCRIPT) -> dict:
    """What is stored in Transcript.data (or, with context TRANSCRIPT_EDITS, in Transcript.edits): the
    value itself, or {"sealed": ...} under the data key. The context is authenticated, so one sealed
    column cannot be passed off as the other."""
    if envelope is None:
        return data
    plain = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return {SEALED: base64.b64encode(envelope.seal_value(plain, context)).decode()}


def open_transcript(envelope: Envelope | None, stored: dict, context: str = TRANSCRIPT) -> dict:
    if SEALED not in stored:
        return stored
    if envelope is None:
        raise KeyringError("A transcript is sealed but its recording has no data key.")
    return json.loads(envelope.open_value(base64.b64decode(stored[SEALED]), context))


# --- crypto-shredding -------------------------------------------------------------------------------------


async def shred_when_emptied(recording: Recording) -> None:
    """Destroy the data key once neither the media nor the transcript is kept: nothing sealed under it
    is to be read again."""
    if recording.data_key is None or recording.media_deleted_at is None or recording.transcript_deleted_at is None:
        return
    recording.data_key = None
    await Recording.filter(id=recording.id).update(data_key=None)


# --- rotation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyUse:
    key_id: str
    active: bool
    data_keys: int


async def key_uses(settings: Settings) -> tuple[list[KeyUse], int]:
    """Each master key in the file, with how many data keys it wraps; and how many recordings that still
    have media or a transcript are stored in the clear."""
    ring = _required(settings)
    uses = [KeyUse(key.id, key is ring.active,
                   await Recording.filter(key_id=key.id, data_key__isnull=False).count()) for key in ring.keys]
    clear = await Recording.filter(key_id__isnull=True, deleted_at__isnull=True).count()
    return uses, clear


async def rotate(settings: Settings) -> tuple[MasterKey, int]:
    """Put a new master key first in the key file and re-wrap every data key under it; media and
    transcripts are not rewritten. The earlier keys stay in the file, for reading only, until `retire`."""
    path = _key_file(settings)
    ring = Keyring.read(path)
    new = MasterKey.generate()
    rotated = Keyring((new, *ring.keys))
    rotated.write(path)
    return new, await rewrap(rotated)


async def retire(settings: Settings) -> list[str]:
    """Remove every key but the active one from the key file, first re-wrapping any data key still under
    one (an upload that finished during a rotation). Returns the retired keys' ids."""
    path = _key_file(settings)
    ring = Keyring.read(path)
    await rewrap(ring)
    Keyring((ring.active,)).write(path)
    return [key.id for key in ring.keys[1:]]


async def rewrap(ring: Keyring) -> int:
    """Re-wrap every data key not under the active key; returns how many."""
    done, after = 0, 0
    while True:
        rows = await (Recording.filter(id__gt=after, data_key__isnull=False).exclude(key_id=ring.active.id)
                      .order_by("id").limit(REWRAP_BATCH).values_list("id", "storage_key", "key_id", "data_key"))
        if not rows:
            return done
        async with in_transaction():
            for recording_id, storage_key, key_id, wrapped in rows:
                data_key = ring.unwrap(key_id, bytes(wrapped), storage_key)
                fields = dict(zip(("key_id", "data_key"), ring.wrap(data_key, storage_key), strict=True))
                # Only if it is as read: a recording deleted meanwhile keeps its destroyed key destroyed.
                done += await Recording.filter(id=recording_id, key_id=key_id, data_key__isnull=False).update(**fields)
        after = rows[-1][0]


def _key_file(settings: Settings):
    if settings.encryption_key_file is None:
        raise KeyringError("DIT_ENCRYPTION_KEY_FILE is not set: there is no key file to rotate.")
    return settings.encryption_key_file
