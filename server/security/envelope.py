"""Sealing what is stored about one recording under its data key: AES-256-GCM (`cryptography`).

A file is sealed in chunks, each authenticated on its own, so that playing from the middle of a
recording (a Range request) decrypts only the chunks the range touches, and a 50-minute session is
sealed and opened in bounded memory. Layout:

    HEADER = MAGIC (8 bytes) + the file's nonce prefix (8 random bytes)
    chunk i = AES-GCM(plaintext bytes [i*CHUNK, (i+1)*CHUNK)) + its 16-byte tag

There are always `plain // CHUNK + 1` chunks: every one holds CHUNK bytes but the last, which holds
the rest (none, when the size is a multiple of CHUNK). A chunk's nonce is the prefix and its index; its
associated data is the header, its index and whether it is the last. So chunks cannot be reordered,
moved between files or dropped from the end unnoticed; any change fails with `SealError`.

Short values (a transcript) are sealed whole: a random nonce, then the ciphertext and tag, with a
context string as associated data so that a value cannot be moved to another field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DITSEAL1"
PREFIX = 8
HEADER = len(MAGIC) + PREFIX
# 64 KiB: a Range request costs at most two chunks' decryption beyond what it asks for, and the 16-byte
# tags add 0.02% to the file.
CHUNK = 64 * 1024
TAG = 16
SEALED_CHUNK = CHUNK + TAG
NONCE = 12
KEY_BYTES = 32


class SealError(ValueError):
    """Not a sealed file, altered, cut short, or sealed under another key."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def chunks_of(plain_size: int) -> int:
    return plain_size // CHUNK + 1


def sealed_size(plain_size: int) -> int:
    return HEADER + plain_size + TAG * chunks_of(plain_size)


def plain_size(sealed: int) -> int:
    """The plaintext's size from the sealed file's; SealError for a size no sealed file has."""
    body = sealed - HEADER
    if body < TAG or body % SEALED_CHUNK < TAG:
        raise SealError("The stored file is not a whole sealed file.")
    return body - TAG * (body // SEALED_CHUNK + 1)


def sealed_span(first: int, last: int, sealed: int) -> tuple[int, int]:
    """Where chunks `first` to `last` (inclusive) lie in a sealed file of `sealed` bytes: [start, end)."""
    return HEADER + first * SEALED_CHUNK, min(HEADER + (last + 1) * SEALED_CHUNK, sealed)


def _associated(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Exactly `size` bytes, or fewer only at the end of the file (`read` may return less)."""
    parts, wanted = [], size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


class Envelope:
    """One recording's data key, and what it seals and opens."""

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != KEY_BYTES:
            raise SealError("A data key is 32 bytes.")
        self._aead = AESGCM(data_key)

    # --- files, in chunks ---------------------------------------------------------------------------

    def seal_stream(self, source: BinaryIO, target: BinaryIO) -> None:
        header = MAGIC + os.urandom(PREFIX)
        target.write(header)
        index, chunk = 0, _read_full(source, CHUNK)
        while True:
            # Read one chunk ahead: the last chunk is known only when the next read finds nothing.
            following = _read_full(source, CHUNK) if len(chunk) == CHUNK else b""
            last = len(chunk) < CHUNK
            target.write(self._aead.encrypt(self._nonce(header, index), chunk, _associated(header, index, last)))
            if last:
                return
            index, chunk = index + 1, following

    def open_stream(self, source: BinaryIO, target: BinaryIO) -> None:
        header = self._header(_read_full(source, HEADER))
        index = 0
        while True:
            sealed = _read_full(source, SEALED_CHUNK)
            last = len(sealed) < SEALED_CHUNK
            target.write(self._open_chunk(header, index, sealed, last))
            if last:
                return
            index += 1

    def seal_file(self, source: Path, target: Path) -> None:
        with open(source, "rb") as plain, open(target, "xb") as sealed:
            self.seal_stream(plain, sealed)

    def open_file(self, source: Path, target: Path) -> None:
        with open(source, "rb") as sealed, open(target, "xb") as plain:
            self.open_stream(sealed, plain)

    def open_chunks(self, header: bytes, first: int, sealed: bytes, chunks: int) -> Iterator[bytes]:
        """The plaintext of consecutive chunks from index `first`, given the file's header, the chunks'
        bytes and how many chunks the whole file has (to know which is the last)."""
        header = self._header(header)
        for offset in range(0, len(sealed), SEALED_CHUNK):
            index = first + offset // SEALED_CHUNK
            yield self._open_chunk(header, index, sealed[offset:offset + SEALED_CHUNK], index == chunks - 1)

    def _open_chunk(self, header: bytes, index: int, sealed: bytes, last: bool) -> bytes:
        try:
            return self._aead.decrypt(self._nonce(header, index), sealed, _associated(header, index, last))
        except InvalidTag:
            raise SealError("The stored file was altered, cut short, or sealed under another key.") from None

    @staticmethod
    def _nonce(header: bytes, index: int) -> bytes:
        return header[len(MAGIC):] + index.to_bytes(NONCE - PREFIX, "big")

    @staticmethod
    def _header(header: bytes) -> bytes:
        if len(header) != HEADER or not header.startswith(MAGIC):
            raise SealError("The stored file is not sealed.")
        return header

    # --- short values, whole ------------------------------------------------------------------------

    def seal_value(self, plain: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plain, context.encode())

    def open_value(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], context.encode())
        except InvalidTag:
            raise SealError(f"The sealed {context} was altered or sealed under another key.") from None
