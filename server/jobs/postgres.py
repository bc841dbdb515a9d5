"""The PostgreSQL queue: procrastinate delivers each TranscriptionJob row to one worker.

A procrastinate job is deferred in the transaction that creates its row (through the Tortoise/asyncpg
connection of that transaction), with a queueing lock and a lock per recording, so that a recording
never has two jobs waiting or two running. procrastinate's worker (psycopg, LISTEN/NOTIFY) runs them;
a periodic sweep, on a queue of its own so a long transcription never holds it up, retries the jobs of
workers whose heartbeat stopped (`get_stalled_jobs` + `retry_job`), takes back rows gone stale, and
defers a job for any queued row left without one. The row stays the lease: a job whose row is not due
does nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import procrastinate
from procrastinate import exceptions as procrastinate_errors
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.schema import SchemaManager
from tortoise.connection import get_connection

from server.clock import now
from server.config import Settings
from server.errors import Conflict
from server.jobs import records
from server.jobs.embedded import pause_after_error
from server.models import JobStatus, TranscriptionJob

log = logging.getLogger("dit.jobs")

TASK, SWEEP = "transcribe", "sweep"
QUEUE, MAINTENANCE = "transcription", "maintenance"
# Tortoise's own URL parameters, which libpq (psycopg, for procrastinate's worker) does not know.
TORTOISE_PARAMETERS = {"minsize", "maxsize", "max_queries", "max_inactive_connection_lifetime", "schema"}
PARAMETER = re.compile(r"%\((\w+)\)s")


def conninfo(database_url: str) -> str:
    """The database URL for libpq: the same server, database and credentials."""
    parts = urlsplit(database_url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in TORTOISE_PARAMETERS])
    return urlunsplit(parts._replace(scheme="postgresql", query=query))


def recording_lock(recording_id: int) -> str:
    return f"recording:{recording_id}"


class Connector(procrastinate.PsycopgConnector):
    """procrastinate's psycopg connector, which can also defer on a Tortoise (asyncpg) connection: the
    one of the transaction that creates the job's row."""

    async def execute_query_all_async_with_connection(self, connection, query, **arguments):
        names: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        statement = PARAMETER.sub(number, query)
        try:
            return await connection.execute_query_dict(statement, [_asyncpg_value(arguments[n]) for n in names])
        except Exception as exc:
            cause = exc.args[0] if exc.args and hasattr(exc.args[0], "constraint_name") else exc
            if type(cause).__name__ != "UniqueViolationError":
                raise
            raise procrastinate_errors.UniqueViolation(constraint_name=cause.constraint_name,
                                                       queueing_lock=None) from exc


def _asyncpg_value(value):
    """psycopg adapts dicts to JSON and named tuples to composite values; asyncpg wants JSON as text
    and composite values as plain tuples."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list):
        return [_asyncpg_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_asyncpg_value(item) for item in value)
    return value


class TryAgain(Exception):
    """The attempt failed and the row is queued again after a backoff."""

    def __init__(self, at: datetime.datetime) -> None:
        super().__init__(f"tried again at {at.isoformat()}")
        self.at = at


class Retry(BaseRetryStrategy):
    """procrastinate retries a job when the row says so (after its backoff), or at once when the
    worker stopped during it (the row was handed back); anything else the sweep settles from the row."""

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        if isinstance(exception, TryAgain):
            return RetryDecision(retry_at=exception.at)
        if isinstance(exception, (asyncio.CancelledError, procrastinate_errors.JobAborted)):
            return RetryDecision(retry_at=now())
        return None


async def apply_schema() -> None:
    """procrastinate's tables and functions, once: a database that has them is left alone."""
    client = get_connection("default")
    present = await client.execute_query_dict("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    if not present[0]["present"]:
        await client.execute_script(SchemaManager.get_schema())


def sweep_cron(settings: Settings) -> str:
    """Every half of job_stale_seconds (1 to 30 s): a dead worker's job waits at most about 1.5 times
    that. The sixth cron field is seconds."""
    return f"* * * * * */{min(max(settings.job_stale_seconds // 2, 1), 30)}"


class ProcrastinateQueue:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = procrastinate.App(connector=Connector(conninfo=conninfo(settings.database_url), min_size=1,
                                                         max_size=4))
        self.task = self.app.task(name=TASK, queue=QUEUE, pass_context=True, retry=Retry())(self._transcribe)
        self.app.periodic(cron=sweep_cron(settings), periodic_id=SWEEP)(
            self.app.task(name=SWEEP, queue=MAINTENANCE, queueing_lock=SWEEP)(self._sweep))

    async def enqueue(self, job, connection) -> None:
        lock = recording_lock(job.recording_id)
        try:
            await self.task.configure(lock=lock, queueing_lock=lock, connection=connection).defer_async(job_id=job.id)
        except procrastinate_errors.AlreadyEnqueued as exc:
            raise Conflict("A transcription of this recording is already waiting to run.") from exc

    async def _transcribe(self, context, job_id: int) -> None:
        runner, presence = context.additional_context["runner"], context.additional_context["presence"]
        job = await records.claim(job_id, runner.worker)
        if job is None:
            await self._not_now(job_id)
            return
        presence.job_id = job.id
        try:
            status = await runner.run(job)
        except Exception as exc:
            # Only the type (a database error's text can quote the row); the row goes stale and the
            # sweep takes it back.
            raise RuntimeError(f"job {job.id} stopped by {type(exc).__name__}") from None
        finally:
            presence.job_id = None
        if status == JobStatus.QUEUED:
            raise TryAgain(now() + records.backoff(self.settings, job.attempts))

    async def _not_now(self, job_id: int) -> None:
        """The row could not be claimed. Finished: nothing to do. Waiting out a backoff: try again when it
        ends. Running: its worker may be dead but not yet known to be (a stalled job is retried as soon as
        procrastinate's heartbeat is stale, the row maybe a moment later), so try again once it would be."""
        row = await TranscriptionJob.get_or_none(id=job_id)
        if row is None or row.status in (JobStatus.DONE, JobStatus.FAILED):
            return
        if row.status == JobStatus.QUEUED and row.not_before is not None and row.not_before > now():
            raise TryAgain(row.not_before)
        raise TryAgain(now() + timedelta(seconds=self.settings.job_stale_seconds))

    async def _sweep(self, timestamp: int) -> None:
        stale = self.settings.job_stale_seconds
        # Rows first, so that a retried job finds its row queued again rather than still running.
        await records.requeue_stale(self.settings)
        for job in await self.app.job_manager.get_stalled_jobs(queue=QUEUE, task_name=TASK,
                                                               seconds_since_heartbeat=stale):
            log.info("retrying procrastinate job %d of a worker that stopped", job.id)
            await self.app.job_manager.retry_job(job)
        await self._defer_orphans()

    async def _defer_orphans(self) -> None:
        """Queued rows with no procrastinate job waiting or running: a job taken back from a dead
        worker, one whose delivery ran before its backoff ended, rows queued before this queue existed."""
        rows = await get_connection("default").execute_query_dict(
            "SELECT j.id, j.recording_id, j.not_before FROM transcription_job j WHERE j.status = $1 AND NOT EXISTS "
            "(SELECT 1 FROM procrastinate_jobs p WHERE p.task_name = $2 AND p.status IN ('todo', 'doing') "
            "AND (p.args->>'job_id')::int = j.id)", [JobStatus.QUEUED.value, TASK])
        for row in rows:
            lock = recording_lock(row["recording_id"])
            try:
                await self.task.configure(lock=lock, queueing_lock=lock,
                                          schedule_at=row["not_before"]).defer_async(job_id=row["id"])
            except procrastinate_errors.AlreadyEnqueued:
                pass  # another job of the recording is waiting: it runs first, this one after it

    def _options(self, runner, presence, **options) -> dict:
        stale = self.settings.job_stale_seconds
        return dict(name=runner.worker, additional_context={"runner": runner, "presence": presence},
                    install_signal_handlers=False, shutdown_graceful_timeout=0,
                    update_heartbeat_interval=min(max(stale / 3, 0.5), 10.0), stalled_worker_timeout=stale,
                    fetch_job_polling_interval=max(self.settings.worker_poll_seconds, 1.0), **options)

    async def work(self, runner, presence, stop: asyncio.Event) -> None:
        """procrastinate's workers, one for transcriptions and one for the sweep, started again after an
        error (the database out of reach) with a growing pause, until `stop` is set or cancelled."""
        log.info("transcription worker %s started (procrastinate)", runner.worker)
        errors = 0
        while not stop.is_set():
            try:
                async with self.app.open_async():
                    workers = [asyncio.create_task(self.app.run_worker_async(**self._options(
                        runner, presence, queues=[queue], concurrency=1))) for queue in (QUEUE, MAINTENANCE)]
                    stopping = asyncio.create_task(stop.wait())
                    try:
                        await asyncio.wait([*workers, stopping], return_when=asyncio.FIRST_COMPLETED)
                        ended = not stop.is_set()
                    finally:
                        for task in (*workers, stopping):
                            task.cancel()
                        results = await asyncio.gather(*workers, stopping, return_exceptions=True)
                    for result in results:
                        if isinstance(result, Exception):
                            raise result
                    if ended:
                        # procrastinate stops its worker, without an error, when one of its side tasks
                        # (the listener, the heartbeat) fails: the database went away.
                        raise ConnectionError("a procrastinate worker stopped")
            except Exception as exc:
                errors += 1
                await pause_after_error(stop, errors, exc, "starting again")

    async def drain(self, runner) -> None:
        from server.jobs.workers import Presence

        async with self.app.open_async():
            await self.app.run_worker_async(**self._options(runner, Presence(self.settings, runner.worker),
                                                            queues=[QUEUE], wait=False))
