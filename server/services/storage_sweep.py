"""Clearing away what a crash left half-written: upload staging directories and job scratch
directories whose process died (see server/workdirs.py), and stored objects that no recording
points to (an upload stored, then killed before its rows were committed).

Run when a service starts and every ten minutes after (`dit serve`, `dit worker`), and by hand with
`dit storage sweep`. Nothing a database row points to is ever removed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from server.clock import now, pause
from server.config import Settings
from server.models import Recording
from server.storage import Storage, storage_for
from server.workdirs import sweep_workdirs

log = logging.getLogger("dit.storage")

SWEEP_SECONDS = 600
# An upload's object is stored seconds before its rows are committed; an object this old with no row
# is debris. The margin is generous: a slow commit must never lose a recording.
ORPHAN_AGE = timedelta(hours=1)
# Only keys this service makes (`<uuid>/<file>`) are ever removed, so that a bucket or folder shared
# with anything else loses nothing of it.
RECORDING_KEY = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/[^/]+$")
QUERY_BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    staging: int
    scratch: int
    objects: int

    def __str__(self) -> str:
        return (f"removed {self.staging} staging and {self.scratch} scratch director"
                f"{'y' if self.scratch == 1 else 'ies'}, and {self.objects} orphaned object(s)")


async def sweep_orphans(storage: Storage, older_than: timedelta = ORPHAN_AGE) -> int:
    """Delete the stored objects older than `older_than` whose storage key no recording has; returns
    how many."""
    cutoff = now() - older_than
    candidates: dict[str, list[str]] = {}
    async for stored in storage.list():
        match = RECORDING_KEY.match(stored.key)
        if match and stored.modified < cutoff:
            candidates.setdefault(match.group(1), []).append(stored.key)
    # The rows are read after the listing: a row committed before the listing ended is seen, and one
    # committed later points to an object stored just before it, too young to be a candidate.
    keys = list(candidates)
    referenced: set[str] = set()
    for start in range(0, len(keys), QUERY_BATCH):
        batch = keys[start:start + QUERY_BATCH]
        referenced.update(await Recording.filter(storage_key__in=batch).values_list("storage_key", flat=True))
    orphans = [key for storage_key, found in candidates.items() if storage_key not in referenced for key in found]
    await storage.delete(orphans)
    if orphans:
        log.info("removed %d stored object(s) that no recording points to", len(orphans))
    return len(orphans)


async def sweep(settings: Settings, older_than: timedelta = ORPHAN_AGE) -> SweepResult:
    """One sweep of everything; the database must be open."""
    staging = await asyncio.to_thread(sweep_workdirs, settings.incoming_dir)
    scratch = await asyncio.to_thread(sweep_workdirs, settings.scratch_dir)
    objects = await sweep_orphans(storage_for(settings), older_than)
    return SweepResult(staging, scratch, objects)


async def keep_swept(settings: Settings, stop: asyncio.Event, every: float = SWEEP_SECONDS) -> None:
    """Sweep now and every `every` seconds until `stop` is set. A failed sweep (storage or database
    unreachable) is logged and tried again next time: it must never take the service down."""
    while not stop.is_set():
        try:
            await sweep(settings)
        except Exception as exc:
            # Only the type: a storage client's error text can carry its whole configuration.
            log.warning("storage sweep failed (%s); trying again in %d s", type(exc).__name__, every)
        await pause(stop, every)
