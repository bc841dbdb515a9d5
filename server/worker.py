"""The transcription worker: claims queued jobs from the database and runs them off the event loop.

Several workers may share one database (the web process's own and `dit worker`s): a job is
claimed by a conditional update, and a running job keeps a heartbeat so that one whose worker
died is put back in the queue once the heartbeat is stale.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from tortoise.transactions import in_transaction

from server.clock import now
from server.config import Settings
from server.models import JobStatus, Recording, Transcript, TranscriptionJob
from server.services.recordings import WorkingAudio, working_audio
from server.services.speakers import trainee_voiceprint
from transcription.diarize import load_encoder
from transcription.engines import Engine, load_engine
from transcription.roles import label_speakers
from transcription.transcript import Transcript as TranscriptData

log = logging.getLogger("dit.worker")

HEARTBEAT_SECONDS = 1.0


def readable_failure(exc: BaseException) -> str:
    """A reason a trainee can act on; exception text from the engines never carries transcript text."""
    if isinstance(exc, FileNotFoundError):
        return "The normalised audio for this recording is missing from storage; upload it again."
    if isinstance(exc, MemoryError):
        return "The transcription ran out of memory; try a smaller model."
    return f"Transcription failed ({type(exc).__name__}): {exc}"


class TranscriptionWorker:
    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # Loaded models are kept for the worker's life: loading costs seconds, a job may be minutes.
        self._engines: dict[tuple[str, str], Engine] = {}
        self._encoder = None

    async def requeue_stale(self) -> int:
        cutoff = now() - timedelta(seconds=self.settings.job_stale_seconds)
        stale = TranscriptionJob.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
        count = await stale.update(status=JobStatus.QUEUED, worker=None, progress=0.0)
        if count:
            log.info("requeued %d transcription job(s) whose worker stopped", count)
        return count

    async def claim(self) -> TranscriptionJob | None:
        while True:
            candidate = await TranscriptionJob.filter(status=JobStatus.QUEUED).order_by("id").first()
            if candidate is None:
                return None
            claimed = await TranscriptionJob.filter(id=candidate.id, status=JobStatus.QUEUED).update(
                status=JobStatus.RUNNING,
                worker=self.name,
                heartbeat_at=now(),
                started_at=now(),
                progress=0.0,
                error=None,
                attempts=candidate.attempts + 1,
            )
            if claimed:
                return await TranscriptionJob.get(id=candidate.id)

    def _held(self, job: TranscriptionJob):
        """The job, as long as this worker still holds it."""
        return TranscriptionJob.filter(id=job.id, worker=self.name, status=JobStatus.RUNNING)

    def _engine(self, engine: str, model: str) -> Engine:
        key = (engine, model)
        if key not in self._engines:
            self._engines[key] = load_engine(
                engine, model, device=self.settings.device, models_dir=self.settings.models_dir
            )
        return self._engines[key]

    def _transcribe(self, job: TranscriptionJob, recording: Recording, progress: dict, voiceprint):
        with working_audio(self.settings, recording) as files:
            engine = self._engine(job.engine, job.model)
            transcript = engine.transcribe(files.audio, lambda fraction: progress.update(value=fraction))
            return self._label_speakers(recording, files, transcript, voiceprint)

    def _label_speakers(self, recording: Recording, files: WorkingAudio, transcript: TranscriptData, voiceprint):
        """Who is speaking, on the original upload so that a stereo recording's channels are seen.
        A transcript without speakers is still worth having, so a failure here is reported with
        the transcript rather than failing the job."""
        try:
            if self._encoder is None:
                self._encoder = load_encoder(self.settings.speaker_encoder)
            labelling = label_speakers(files.original, transcript,
                                       therapist_voiceprint=voiceprint, corrections=recording.speaker_corrections,
                                       encoder=self._encoder)
        except Exception as exc:
            log.warning("recording %d: speakers not labelled (%s)", recording.id, type(exc).__name__)
            return transcript, {"flag": "Who is speaking could not be worked out for this recording."}
        return labelling.transcript, {**labelling.to_dict(), "encoder": self.settings.speaker_encoder}

    async def run_job(self, job: TranscriptionJob) -> None:
        recording = await Recording.get(id=job.recording_id).select_related("session__case")
        voiceprint, _ = await trainee_voiceprint(recording.session.case.trainee_id, self.settings.speaker_encoder,
                                                 leaving_out=recording.id)
        progress = {"value": 0.0}
        log.info("job %d: transcribing recording %d with %s %s", job.id, recording.id, job.engine, job.model)
        work = asyncio.ensure_future(asyncio.to_thread(self._transcribe, job, recording, progress, voiceprint))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=HEARTBEAT_SECONDS)
                await self._held(job).update(progress=min(max(progress["value"], 0.0), 0.999), heartbeat_at=now())
            transcript, speakers = work.result()
        except asyncio.CancelledError:
            # Shutting down: hand the job back at once rather than waiting for it to go stale.
            await self._held(job).update(status=JobStatus.QUEUED, worker=None, progress=0.0)
            raise
        except Exception as exc:
            log.warning("job %d failed: %s", job.id, type(exc).__name__)
            await self._held(job).update(status=JobStatus.FAILED, error=readable_failure(exc), finished_at=now())
            return
        transcript.duration = recording.duration
        async with in_transaction():
            finished = await self._held(job).update(status=JobStatus.DONE, progress=1.0, finished_at=now())
            if not finished:
                log.info("job %d was taken back while running; result discarded", job.id)
                return
            await Transcript.filter(recording_id=recording.id).delete()
            await Transcript.create(
                recording_id=recording.id,
                language=transcript.language,
                engine=transcript.engine,
                model=transcript.model,
                data=transcript.to_dict(),
                speakers=speakers,
            )
        log.info("job %d done: %d segments", job.id, len(transcript.segments))

    async def run(self, stop: asyncio.Event) -> None:
        log.info("transcription worker %s started", self.name)
        await self.requeue_stale()
        while not stop.is_set():
            job = await self.claim()
            if job is not None:
                await self.run_job(job)
                continue
            await self.requeue_stale()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.worker_poll_seconds)
            except asyncio.TimeoutError:
                pass
