"""A recording's original upload in storage, stored in the clear or sealed under its data key
(server/security/envelope.py): storing it, reading byte ranges of it for playback, and a local copy
for the worker and for exports.

Sealed media is played through the web process whatever the backend (a presigned S3 address would hand
the browser ciphertext); only the chunks a Range touches are fetched and opened. Decrypted audio is
never written to storage: only to a job's scratch directory, which is removed when the job ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from server.config import Settings
from server.errors import NotFound
from server.models import Recording
from server.security.envelope import CHUNK, HEADER, Envelope, chunks_of, plain_size, sealed_span
from server.services.encryption import envelope_for
from server.storage import Storage, storage_for

MISSING = "The recording's file is missing from storage."
SEALED_SUFFIX = ".sealed"
# Plaintext fetched and opened per storage request while a long range streams: 1 MiB.
STREAM_CHUNKS = 16


def original_key(recording: Recording) -> str:
    """The original upload's key in storage (see server/storage.py)."""
    return f"{recording.storage_key}/{recording.original_file}"


async def store_original(settings: Settings, key: str, upload: Path, data_key: bytes | None) -> None:
    """Put the received upload into storage, sealed first when the recording has a data key (the sealed
    copy is made beside the upload, in its staging directory, which is removed afterwards)."""
    storage = storage_for(settings)
    if data_key is None:
        await storage.put_file(key, upload)
        return
    sealed = upload.with_name(upload.name + SEALED_SUFFIX)
    await asyncio.to_thread(Envelope(data_key).seal_file, upload, sealed)
    await storage.put_file(key, sealed)


@dataclass(frozen=True)
class SealedMedia:
    storage: Storage
    key: str
    envelope: Envelope
    sealed_size: int

    @property
    def size(self) -> int:
        return plain_size(self.sealed_size)

    async def read(self, start: int, end: int) -> AsyncIterator[bytes]:
        """The plaintext bytes [start, end), a few chunks per storage request."""
        if start >= end:
            return
        chunks = chunks_of(self.size)
        header = None
        for first in range(start // CHUNK, (end - 1) // CHUNK + 1, STREAM_CHUNKS):
            last = min(first + STREAM_CHUNKS, (end - 1) // CHUNK + 1) - 1
            span = sealed_span(first, last, self.sealed_size)
            if header is None:
                header, sealed = await self.storage.read_ranges(self.key, [(0, HEADER), span])
                header = bytes(header)
            else:
                (sealed,) = await self.storage.read_ranges(self.key, [span])
            plain = b"".join(self.envelope.open_chunks(header, first, sealed, chunks))
            offset = first * CHUNK
            yield plain[max(start - offset, 0):end - offset]


async def sealed_media(settings: Settings, recording: Recording) -> SealedMedia | None:
    """The recording's sealed original, or None when it is stored in the clear; NotFound when missing."""
    envelope = envelope_for(settings, recording)
    if envelope is None:
        return None
    storage = storage_for(settings)
    key = original_key(recording)
    found = await storage.head(key)
    if found is None:
        raise NotFound(MISSING)
    return SealedMedia(storage, key, envelope, found.size)


def download_original(settings: Settings, recording: Recording, destination: Path) -> None:
    """The original upload, in the clear, at `destination` (synchronous: for a worker's child process or a
    thread). FileNotFoundError when it is missing from storage; nothing is left at `destination` on failure."""
    storage = storage_for(settings)
    envelope = envelope_for(settings, recording)
    if envelope is None:
        storage.download(original_key(recording), destination)
        return
    sealed = destination.with_name(destination.name + SEALED_SUFFIX)
    try:
        storage.download(original_key(recording), sealed)
        envelope.open_file(sealed, destination)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    finally:
        sealed.unlink(missing_ok=True)
