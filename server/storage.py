"""Where recordings are kept: one interface, on obstore, over a local directory (the default,
`$DIT_DATA_DIR/recordings`) and an S3 bucket (`DIT_STORAGE_URL=s3://bucket/prefix`).

Objects are named by keys `<storage_key>/<file>`: a recording's storage key (a UUID) is its folder,
and a recording's folder is all that ever shares its prefix. Nothing here knows of HTTP or the
database. The web process uses the async methods; the worker, in a thread or a child process, the
synchronous `download`.

obstore runs its requests on a runtime of threads that a forked child does not inherit: a child made
by `fork` after its parent used S3 would hang on its first request, so that is refused with a clear
error (start such children with the 'spawn' or 'forkserver' method). The local backend reads and
writes plain files in `download` and `put_file`, and so works from any child.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from server.config import Settings

# Long enough for a 50-minute session to be played and sought in without the link lapsing (a browser
# sends its later Range requests to the address it was redirected to); short enough that a link that
# leaks from a browser's history soon opens nothing.
PRESIGNED_SECONDS = 3600
# Deleting many objects at once: S3's DeleteObjects takes at most a thousand keys a request.
DELETE_BATCH = 1000
DOWNLOAD_CHUNK = 8 * 1024 * 1024

# The process that started obstore's runtime (on its first request): a forked child inherits the
# value but not the runtime's threads.
_runtime_pid: int | None = None


class StorageError(RuntimeError):
    """Storage cannot be used as configured or from where it is called."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


def check_key(key: str) -> str:
    """Keys are made by this service, never from user input; still, none may climb out of the store."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def _meta(meta: dict) -> StoredObject:
    return StoredObject(meta["path"], meta["size"], meta["last_modified"])


def _hidden(key: str) -> bool:
    """The local backend's recordings folder also holds the upload staging folder, `.incoming`:
    nothing under a dot-name is an object."""
    return any(part.startswith(".") for part in PurePosixPath(key).parts)


class Storage:
    """The recordings' objects in one place: `local_root` set for a local directory, None for S3."""

    def __init__(self, store: LocalStore | S3Store, *, local_root: Path | None) -> None:
        self._store = store
        self.local_root = local_root

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        url = settings.storage_url
        if not url:
            return cls.local(settings.recordings_dir)
        scheme = urlsplit(url).scheme
        if scheme == "file":
            return cls.local(Path(urlsplit(url).path))
        if scheme == "s3":
            return cls.s3(url, dict(settings.s3_variables))
        raise StorageError(f"DIT_STORAGE_URL must be s3://bucket/prefix or file:///folder, not {url!r}")

    @classmethod
    def local(cls, root: Path) -> Storage:
        root.mkdir(parents=True, exist_ok=True)
        # automatic_cleanup: a recording's folder goes with its last file.
        store = LocalStore(root, automatic_cleanup=True)
        return cls(store, local_root=root.resolve())

    @classmethod
    def s3(cls, url: str, variables: dict[str, str]) -> Storage:
        """Credentials, region and endpoint come from the usual AWS_* variables, as `Settings` read them
        (obstore would read the process's own environment, which a forkserver child has from earlier).
        A plain-HTTP endpoint (a test server on the loopback) is allowed only when AWS_ENDPOINT_URL
        names one."""
        endpoint = variables.get("AWS_ENDPOINT_URL") or variables.get("AWS_ENDPOINT") or ""
        options = {"allow_http": True} if endpoint.startswith("http://") else {}
        try:
            store = S3Store.from_url(url, config=variables, client_options=options)
        except Exception as exc:
            raise StorageError(f"DIT_STORAGE_URL {url!r} cannot be used: {exc}") from exc
        return cls(store, local_root=None)

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    def _obstore(self) -> LocalStore | S3Store:
        """The store, unless this process is a forked child of one that already used obstore (see the
        module's note): an error then, rather than a request that never returns."""
        global _runtime_pid
        pid = os.getpid()
        if _runtime_pid is None:
            _runtime_pid = pid
        elif _runtime_pid != pid:
            raise StorageError("object storage was used before this process was forked; start worker "
                               "processes with the 'spawn' or 'forkserver' method")
        return self._store

    def local_path(self, key: str) -> Path | None:
        """The object's file (whether or not it exists) for the local backend; None on S3."""
        return None if self.local_root is None else self.local_root / check_key(key)

    # --- writing ----------------------------------------------------------------------------------

    async def put_file(self, key: str, path: Path) -> None:
        """Store a local file under `key`; the file itself is left as it was. On the local backend it
        is hard-linked into place when it is on the same file system (as the upload staging folder
        is): no copy of a recording that may be gigabytes."""
        target = self.local_path(key)
        if target is not None:
            try:
                await asyncio.to_thread(_link, path, target)
                return
            except OSError:
                pass
        await obstore.put_async(self._obstore(), check_key(key), Path(path))

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix/` (a recording's folder); returns how many."""
        keys = [found.key async for found in self.list(check_key(prefix))]
        await self.delete(keys)
        return len(keys)

    async def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [check_key(key) for key in keys[start:start + DELETE_BATCH]]
            await obstore.delete_async(self._obstore(), batch)

    # --- reading ----------------------------------------------------------------------------------

    async def head(self, key: str) -> StoredObject | None:
        """The object's size and time, or None when there is no such object."""
        try:
            return _meta(await obstore.head_async(self._obstore(), check_key(key)))
        except FileNotFoundError:
            return None

    async def list(self, prefix: str | None = None) -> AsyncIterator[StoredObject]:
        """Every object (under `prefix/`, when given), in pages: a bucket may hold many thousands."""
        async for page in obstore.list(self._obstore(), prefix, chunk_size=1000):
            for meta in page:
                if not _hidden(meta["path"]):
                    yield _meta(meta)

    async def read_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[memoryview]:
        """Byte ranges [start, end) of the object, fetched together (one request per range, in parallel, on
        S3): a sealed recording's header and the chunks a playback range touches."""
        found = await obstore.get_ranges_async(self._obstore(), check_key(key), starts=[start for start, _ in ranges],
                                               ends=[end for _, end in ranges])
        return [memoryview(part) for part in found]

    def download(self, key: str, destination: Path) -> None:
        """Copy the object to a local file (synchronous: for a worker thread or child process).
        FileNotFoundError when there is no such object; a partial copy is never left at `destination`."""
        source = self.local_path(key)
        if source is not None:
            try:
                _link(source, destination)
            except FileNotFoundError:
                raise
            except OSError:
                shutil.copyfile(source, destination)
            return
        partial = destination.with_name(f".{destination.name}.partial")
        try:
            result = obstore.get(self._obstore(), check_key(key))
            with open(partial, "wb") as out:
                for chunk in result.stream(min_chunk_size=DOWNLOAD_CHUNK):
                    out.write(chunk)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    # --- playback ---------------------------------------------------------------------------------

    def presigned_url(self, key: str, seconds: int = PRESIGNED_SECONDS) -> str:
        """An address a browser can GET (with Range) the object from for `seconds`, without
        credentials. S3 only: the local backend's files are served by the web process."""
        if self.is_local:
            raise StorageError("the local backend has no presigned URLs")
        return obstore.sign(self._obstore(), "GET", check_key(key), timedelta(seconds=seconds))

    def media_origin(self) -> str | None:
        """Where presigned URLs point (scheme://host[:port]), for the pages' Content-Security-Policy:
        a player may load media only from origins it names. None for the local backend. Signing is
        computed locally from the credentials: no request is made."""
        if self.is_local:
            return None
        parts = urlsplit(self.presigned_url("origin-probe", 60))
        return f"{parts.scheme}://{parts.netloc}"


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.link(source, target)


@lru_cache(maxsize=8)
def _cached(settings: Settings, pid: int) -> Storage:
    return Storage.from_settings(settings)


def storage_for(settings: Settings) -> Storage:
    """The storage `settings` name, one per process: opening an S3 client costs a connection pool, and
    a forked child gets one of its own."""
    return _cached(settings, os.getpid())
