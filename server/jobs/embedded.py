"""The embedded queue: workers claim due rows of the transcription_job table themselves. No engine
offers persistent SQLite with at-least-once delivery, and the table already is one; any number of
workers may share it (a claim is a conditional update)."""

from __future__ import annotations

import asyncio
import logging

from server.clock import pause
from server.config import Settings
from server.jobs import records

log = logging.getLogger("dit.jobs")

# After an error (the database or storage out of reach), the loop waits 1 s, then 2, 4... up to this.
MAX_PAUSE_SECONDS = 60.0


async def pause_after_error(stop: asyncio.Event, errors: int, exc: Exception, then: str) -> None:
    """After the `errors`th error in a row, logged by its type alone (a database error's text can quote
    the row it failed on), wait longer each time before the loop goes on to `then`."""
    seconds = min(2.0 ** (errors - 1), MAX_PAUSE_SECONDS)
    log.error("transcription worker: %s; %s in %.0f s", type(exc).__name__, then, seconds)
    await pause(stop, seconds)


class EmbeddedQueue:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def enqueue(self, job, connection) -> None:
        """The row is the queue entry."""

    async def work(self, runner, presence, stop: asyncio.Event) -> None:
        log.info("transcription worker %s started", runner.worker)
        errors = 0
        while not stop.is_set():
            try:
                await records.requeue_stale(self.settings)
                ran = await self._run_next(runner, presence)
            except Exception as exc:
                errors += 1
                await pause_after_error(stop, errors, exc, "trying again")
                continue
            errors = 0
            if not ran:
                await pause(stop, self.settings.worker_poll_seconds)

    async def _run_next(self, runner, presence) -> bool:
        job = await records.claim_next(runner.worker)
        if job is None:
            return False
        presence.job_id = job.id
        try:
            await runner.run(job)
        finally:
            presence.job_id = None
        return True

    async def drain(self, runner) -> None:
        while (job := await records.claim_next(runner.worker)) is not None:
            await runner.run(job)
