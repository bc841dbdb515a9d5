"""Transcription jobs: the queue that delivers them to workers, and the workers that run them.

`TranscriptionJob` rows are what users see (status, progress, error, attempts) and are the lease a
worker holds (`records`). Which queue delivers them is chosen here, from the settings, and nowhere else:

- `embedded` (SQLite, the default): workers claim rows from the table by a conditional update;
- `procrastinate` (PostgreSQL): each row gets a procrastinate job deferred in the transaction that
  creates it, with a lock per recording, and a periodic task takes back the jobs of workers that died.

Either way recognition runs in a child process the worker can kill (`recogniser`), attempts are capped
with backoff, and each worker keeps a heartbeat row (`workers.fresh_workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Protocol

from tortoise.transactions import in_transaction

from server.config import Settings
from server.models import JobStatus, Recording, TranscriptionJob


class JobQueue(Protocol):
    async def enqueue(self, job: TranscriptionJob, connection) -> None:
        """Deliver a new job row, on `connection`: the transaction that created it."""

    async def work(self, runner, presence, stop: asyncio.Event) -> None:
        """Run jobs with `runner` until `stop` is set or the task is cancelled."""

    async def drain(self, runner) -> None:
        """Run every job that is due now, then return."""


def job_queue(settings: Settings) -> JobQueue:
    """The one place the queue is chosen: procrastinate on PostgreSQL, the embedded claim loop otherwise."""
    if settings.on_postgres:
        from server.jobs.postgres import ProcrastinateQueue

        return ProcrastinateQueue(settings)
    from server.jobs.embedded import EmbeddedQueue

    return EmbeddedQueue(settings)


async def prepare_queue(settings: Settings) -> None:
    """Create the queue's own tables where it has any (procrastinate's schema, on PostgreSQL); run by
    every command that opens the database, under its migration lock."""
    if settings.on_postgres:
        from server.jobs.postgres import apply_schema

        await apply_schema()


async def queue_transcription(recording: Recording, settings: Settings) -> TranscriptionJob:
    """A new job for the recording, delivered in the same transaction (a savepoint inside the caller's):
    a row without its queue entry, or the reverse, is never committed."""
    async with in_transaction() as connection:
        job = await TranscriptionJob.create(recording=recording, status=JobStatus.QUEUED, engine=settings.engine,
                                            model=settings.model, using_db=connection)
        await job_queue(settings).enqueue(job, connection)
    return job


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def run_worker(settings: Settings, stop: asyncio.Event, name: str | None = None,
                     beside_web: bool = False) -> None:
    """A transcription worker: runs jobs (and, daily, the retention schedule) until `stop` is set or it is
    cancelled (SIGTERM), when the job in hand is handed back and its child process killed. `beside_web`: it
    runs in the web process, and leaves it a core (`Settings.recognition_threads`)."""
    from server.jobs.runner import JobRunner
    from server.jobs.workers import Presence
    from server.services.retention import keep_retained

    runner = JobRunner(settings, name or worker_name(), beside_web=beside_web)
    # The retention schedule runs in every worker, daily: deleting what is due twice deletes it once.
    retention = asyncio.create_task(keep_retained(settings, stop))
    try:
        async with Presence(settings, runner.worker).kept() as presence:
            await job_queue(settings).work(runner, presence, stop)
    finally:
        retention.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retention
        runner.close()


_warm_recogniser = None


async def run_queued_jobs(settings: Settings) -> None:
    """Run every job that is due now in this process, then return (the tests' worker). Its recognition
    child is kept between calls, as a worker keeps it between jobs: loading the models costs seconds each
    time (a child killed meanwhile is replaced on the next job)."""
    global _warm_recogniser
    from server.jobs.recogniser import Recogniser
    from server.jobs.runner import JobRunner

    _warm_recogniser = _warm_recogniser or Recogniser()
    await job_queue(settings).drain(JobRunner(settings, worker_name(), _warm_recogniser))
