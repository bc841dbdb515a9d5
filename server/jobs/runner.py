"""Running one claimed transcription job: the recording's details go to the recogniser's child process,
its progress comes back and is written with the heartbeat, and the transcript is saved if the job is
still this worker's. The child is killed on cancel (the worker stopping), on timeout and when the lease
is lost."""

from __future__ import annotations

import asyncio
import logging

from tortoise.transactions import in_transaction

from server.clock import now
from server.config import Settings
from server.jobs import records
from server.jobs.recogniser import Recogniser, RecognitionFailed, Request
from server.models import JobStatus, Recording, Transcript, TranscriptionJob
from server.services.speakers import trainee_voiceprint
from server.services.transcript_edits import carried_over
from server.services.transcripts import follow_lines, opened, sealed
from transcription.formats import clock
from transcription.transcript import Transcript as TranscriptData
from transcription.transcript import line_map

log = logging.getLogger("dit.jobs")

HEARTBEAT_SECONDS = 1.0


class LeaseLost(Exception):
    """Another worker took the job back while this one ran it."""


def time_limit(settings: Settings, duration: float) -> float:
    return max(settings.job_timeout_factor * duration, settings.job_timeout_min_seconds)


class JobRunner:
    def __init__(self, settings: Settings, worker: str, recogniser: Recogniser | None = None,
                 beside_web: bool = True) -> None:
        self.settings = settings
        self.worker = worker
        self.recogniser = recogniser or Recogniser()
        self.threads = settings.recognition_threads(beside_web)

    def close(self) -> None:
        self.recogniser.kill()

    async def run(self, job: TranscriptionJob) -> JobStatus | None:
        """Run a job this worker has claimed; how it ended: DONE, QUEUED (to be tried again after a
        backoff), FAILED, or None when it was taken back. Cancelled, it kills the child, hands the job
        back and re-raises. A database error while settling the job is raised, the child stopped: the
        job then goes stale and is taken back."""
        try:
            transcript, speakers = await self._recognise(job)
        except asyncio.CancelledError:
            self.recogniser.kill()
            try:
                await records.hand_back(job, self.worker)
            except Exception as exc:
                log.warning("job %d not handed back (%s); it is taken back once stale", job.id, type(exc).__name__)
            raise
        except LeaseLost:
            self.recogniser.kill()
            log.info("job %d was taken back while running; stopped", job.id)
            return None
        except RecognitionFailed as failed:
            log.warning("job %d: attempt %d failed", job.id, job.attempts)
            again = await records.fail_attempt(self.settings, job, self.worker, str(failed))
            return JobStatus.QUEUED if again else JobStatus.FAILED
        except BaseException:
            self.recogniser.kill()
            raise
        return await self._save(job, transcript, speakers)

    async def _recognise(self, job: TranscriptionJob):
        recording = await Recording.get(id=job.recording_id).select_related("session__case")
        voiceprint, _ = await trainee_voiceprint(recording.session.case.trainee_id, self.settings.speaker_encoder,
                                                 leaving_out=recording.id)
        limit = time_limit(self.settings, recording.duration)
        deadline = asyncio.get_running_loop().time() + limit
        self.recogniser.submit(Request(self.settings, recording, job.engine, job.model, voiceprint, self.threads))
        log.info("job %d: transcribing recording %d with %s %s in process %d", job.id, recording.id, job.engine,
                 job.model, self.recogniser.pid)
        progress = 0.0
        while True:
            message = await self.recogniser.receive(HEARTBEAT_SECONDS)
            if message is not None and message[0] == "done":
                transcript, speakers = message[1], message[2]
                transcript.duration = recording.duration
                return transcript, speakers
            if message is not None:
                progress = message[1]
            if asyncio.get_running_loop().time() > deadline:
                self.recogniser.kill()
                raise RecognitionFailed(f"Transcription took longer than {clock(limit)}, the limit for a recording "
                                        f"of {clock(recording.duration)}, and was stopped.")
            await self._beat(job, progress)

    async def _beat(self, job: TranscriptionJob, progress: float) -> None:
        """The heartbeat; a database error is logged and the job runs on (it is taken back only if
        the database stays out of reach for longer than job_stale_seconds)."""
        try:
            held = await records.beat(job, self.worker, progress)
        except Exception as exc:
            log.warning("job %d: heartbeat not recorded (%s)", job.id, type(exc).__name__)
            return
        if not held:
            raise LeaseLost

    async def _save(self, job: TranscriptionJob, transcript, speakers) -> JobStatus | None:
        recording_id = job.recording_id
        async with in_transaction():
            finished = await records.held(job, self.worker).update(status=JobStatus.DONE, progress=1.0,
                                                                   finished_at=now(), error=None)
            if not finished:
                log.info("job %d was taken back while running; result discarded", job.id)
                return None
            # Read again, not the row the job began with: a key rotation may have re-wrapped its data key since.
            recording = await Recording.get(id=recording_id)
            # Locked, so that a correction saved meanwhile is either carried over or refused, never lost.
            previous = await Transcript.filter(recording_id=recording_id).select_for_update().first()
            transcript, edits = carried_over(self.settings, recording, previous, transcript)
            if previous is not None:
                before = TranscriptData.from_dict(opened(self.settings, recording, previous))
                await follow_lines(recording_id, line_map(before.segments, transcript.segments))
            await Transcript.filter(recording_id=recording_id).delete()
            await Transcript.create(recording_id=recording_id, language=transcript.language, engine=transcript.engine,
                                    model=transcript.model, data=sealed(self.settings, recording, transcript.to_dict()),
                                    speakers=speakers, edits=edits)
        log.info("job %d done: %d segments", job.id, len(transcript.segments))
        return JobStatus.DONE
