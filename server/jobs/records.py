"""The TranscriptionJob row as a lease: claiming it, holding it, handing it back, and what a failed
attempt turns it into. Both queues (embedded and procrastinate) go through these, so the record users
see means the same whichever delivers the job."""

from __future__ import annotations

import logging
from datetime import timedelta

from tortoise.expressions import F, Q

from server.clock import now
from server.config import Settings
from server.models import JobStatus, NotificationKind, TranscriptionJob, User
from server.services import notifications

log = logging.getLogger("dit.jobs")


STOPPED = "The worker transcribing this recording stopped before it finished (it may have run out of memory)."


def due() -> Q:
    """Queued and not waiting out a backoff."""
    return Q(status=JobStatus.QUEUED) & (Q(not_before__isnull=True) | Q(not_before__lte=now()))


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Doubles with each failed attempt: 1x, 2x, 4x job_backoff_seconds."""
    return timedelta(seconds=settings.job_backoff_seconds * 2 ** max(attempts - 1, 0))


async def claim(job_id: int, worker: str) -> TranscriptionJob | None:
    """Take the job if it is due; None if another worker has it, it is finished, or it must wait."""
    claimed = await TranscriptionJob.filter(due(), id=job_id).update(
        status=JobStatus.RUNNING, worker=worker, heartbeat_at=now(), started_at=now(), progress=0.0,
        not_before=None, attempts=F("attempts") + 1)
    return await TranscriptionJob.get(id=job_id) if claimed else None


async def claim_next(worker: str) -> TranscriptionJob | None:
    """The oldest due job, claimed by a conditional update so that workers sharing the database never
    take the same one."""
    while True:
        candidate = await TranscriptionJob.filter(due()).order_by("id").first()
        if candidate is None:
            return None
        if job := await claim(candidate.id, worker):
            return job


def held(job: TranscriptionJob, worker: str):
    """The job, as long as this worker still holds it: an update through this matches no row once the
    job was taken back (its heartbeat went stale and another worker claimed it)."""
    return TranscriptionJob.filter(id=job.id, worker=worker, status=JobStatus.RUNNING)


async def beat(job: TranscriptionJob, worker: str, progress: float) -> bool:
    """Record progress and that the worker is alive; False once the lease is lost."""
    return bool(await held(job, worker).update(progress=min(max(progress, 0.0), 0.999), heartbeat_at=now()))


async def hand_back(job: TranscriptionJob, worker: str) -> None:
    """The worker is stopping: queue the job again at once. Not the job's fault, so the attempt is not
    counted."""
    await held(job, worker).update(status=JobStatus.QUEUED, worker=None, progress=0.0,
                                   attempts=F("attempts") - 1)


async def fail_attempt(settings: Settings, job: TranscriptionJob, worker: str, reason: str) -> bool:
    """An attempt failed: queue the job again after a backoff, or, after the last attempt, fail it with
    the reason. True if the job is to be tried again."""
    return await _settle(settings, held(job, worker), job, reason) == JobStatus.QUEUED


async def _settle(settings: Settings, lease, job: TranscriptionJob, reason: str) -> JobStatus | None:
    """The job queued again or failed, through `lease`; None if the lease matched no row. Its failure is
    told to whoever uploaded the recording."""
    attempts = job.attempts
    if attempts < settings.job_max_attempts:
        changed = await lease.update(status=JobStatus.QUEUED, worker=None, progress=0.0, error=reason,
                                     not_before=now() + backoff(settings, attempts))
        return JobStatus.QUEUED if changed else None
    changed = await lease.update(status=JobStatus.FAILED, error=final_reason(attempts, reason), finished_at=now())
    if not changed:
        return None
    uploader = await User.filter(uploads__id=job.recording_id).first()
    await notifications.notify(settings, [uploader], NotificationKind.TRANSCRIPTION_FAILED,
                               f"/recordings/{job.recording_id}")
    notifications.schedule(settings)
    return JobStatus.FAILED


def final_reason(attempts: int, reason: str) -> str:
    return reason if attempts <= 1 else f"{reason} (tried {attempts} times)"


async def requeue_stale(settings: Settings) -> int:
    """Running jobs whose worker went silent (it died, or lost the database for longer than
    job_stale_seconds): each counts as a failed attempt."""
    cutoff = now() - timedelta(seconds=settings.job_stale_seconds)
    count = 0
    for job in await TranscriptionJob.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff):
        # Through the silent worker's lease and only while it is still silent: one that beats again in
        # the meantime keeps its job, and of two workers taking the job back, one does.
        lease = held(job, job.worker).filter(heartbeat_at__lt=cutoff)
        if await _settle(settings, lease, job, STOPPED):
            count += 1
    if count:
        log.info("took back %d transcription job(s) whose worker stopped", count)
    return count
