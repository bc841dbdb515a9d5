"""Worker heartbeats: each running worker keeps a row in the `worker` table fresh, with the job it is
on, so that a readiness check can tell whether any worker is alive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from server.clock import now
from server.config import Settings
from server.models import Worker

log = logging.getLogger("dit.jobs")

BEAT_SECONDS = 5.0
# Rows of workers silent this many times job_stale_seconds are removed: they stopped without saying so.
FORGOTTEN_AFTER = 20


async def fresh_workers(settings: Settings) -> list[Worker]:
    """The workers that have beaten within job_stale_seconds (and at least within two beats)."""
    window = max(settings.job_stale_seconds, 2 * BEAT_SECONDS)
    return await Worker.filter(heartbeat_at__gte=now() - timedelta(seconds=window)).order_by("name")


class Presence:
    """This worker's row, beaten in the background while it runs; the job it is on is `job_id`."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.job_id: int | None = None

    async def beat(self) -> None:
        await Worker.filter(name=self.name).update(heartbeat_at=now(), job_id=self.job_id)

    async def _register(self) -> None:
        await Worker.update_or_create({"started_at": now(), "heartbeat_at": now(), "job_id": None}, name=self.name)
        forgotten = now() - timedelta(seconds=FORGOTTEN_AFTER * max(self.settings.job_stale_seconds, BEAT_SECONDS))
        await Worker.filter(heartbeat_at__lt=forgotten).delete()

    async def _keep(self) -> None:
        """Beat until cancelled; a database error is logged and the next beat tried (a worker that cannot
        reach the database is rightly reported as not alive meanwhile)."""
        registered = False
        while True:
            try:
                if not registered:
                    await self._register()
                    registered = True
                else:
                    await self.beat()
            except Exception as exc:
                log.warning("worker heartbeat not recorded (%s)", type(exc).__name__)
            await asyncio.sleep(BEAT_SECONDS)

    @contextlib.asynccontextmanager
    async def kept(self):
        task = asyncio.create_task(self._keep(), name="worker heartbeat")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # A clean stop says so at once; if this fails, the row simply goes stale.
            with contextlib.suppress(Exception):
                await Worker.filter(name=self.name).delete()
