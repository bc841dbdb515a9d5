"""Session recordings: accepting an upload (check it is media, normalise it, store it, queue it),
retrying a failed transcription, and putting a tape forward for assessment.

A recording is accepted whole or not at all: files are assembled in a staging directory and moved
into place only after the probe and normalisation have succeeded and the database rows are
written, so a refused or failed upload leaves nothing behind and never disturbs the session's
current recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tortoise.transactions import in_transaction

from server import access, jobs
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Invalid, Unprocessable
from server.models import Case, JobStatus, Recording, TherapySession, TranscriptionJob, User
from transcription.media import MediaError, MediaInfo, normalise, probe

ORIGINAL = "original"
AUDIO_FILE = "audio.wav"
UPLOAD_FILE = "upload"


def media_type_for(info: MediaInfo, filename: str) -> tuple[str, str]:
    """(extension, MIME type) to store and serve the original for playback.

    Taken from what ffprobe found, not from what the client claimed.
    """
    formats = set(info.format_name.split(","))
    suffix = Path(filename).suffix.lower().lstrip(".")
    kind = "video" if info.has_video else "audio"
    if "wav" in formats:
        return "wav", "audio/wav"
    if "mp3" in formats:
        return "mp3", "audio/mpeg"
    if "flac" in formats:
        return "flac", "audio/flac"
    if "ogg" in formats:
        return ("opus" if info.audio_codec == "opus" else "ogg"), "audio/ogg"
    if "webm" in formats or "matroska" in formats:
        return ("webm" if "webm" in formats and suffix != "mkv" else "mkv"), f"{kind}/webm"
    if "mov" in formats or "mp4" in formats:
        if suffix == "mov":
            return "mov", "video/quicktime" if info.has_video else "audio/mp4"
        return ("mp4" if info.has_video else "m4a"), f"{kind}/mp4"
    return "bin", "application/octet-stream"


def recording_dir(settings: Settings, recording: Recording) -> Path:
    return settings.recordings_dir / recording.storage_key


def original_path(settings: Settings, recording: Recording) -> Path:
    return recording_dir(settings, recording) / recording.original_file


def audio_path(settings: Settings, recording: Recording) -> Path:
    return recording_dir(settings, recording) / AUDIO_FILE


@dataclass(frozen=True)
class WorkingAudio:
    """Local files a worker reads one recording from: the original upload (its channels tell the
    speakers apart) and the 16 kHz mono audio the speech engines take."""

    original: Path
    audio: Path


@contextlib.contextmanager
def working_audio(settings: Settings, recording: Recording) -> Iterator[WorkingAudio]:
    """The recording's audio as local files for the length of one job. The one seam between the
    worker and where recordings are kept."""
    audio = audio_path(settings, recording)
    if not audio.exists():
        raise FileNotFoundError(audio)
    yield WorkingAudio(original_path(settings, recording), audio)


@dataclass(frozen=True)
class Staging:
    """Where one upload is assembled: `upload` is where the received bytes go."""

    storage_key: str
    directory: Path

    @property
    def upload(self) -> Path:
        return self.directory / UPLOAD_FILE


@dataclass(frozen=True)
class ReceivedFile:
    filename: str
    size: int
    sha256: str


@contextlib.contextmanager
def staging(settings: Settings) -> Iterator[Staging]:
    """A fresh staging directory beside the recordings (so acceptance is a rename), removed afterwards
    whatever happened: after acceptance it has been moved away and there is nothing left to remove."""
    storage_key = str(uuid.uuid4())
    directory = settings.incoming_dir / storage_key
    directory.mkdir(parents=True)
    try:
        yield Staging(storage_key, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def accept_recording(settings: Settings, staged: Staging, received: ReceivedFile, case: Case, number: int,
                           uploader: User) -> Recording:
    """Probe and normalise what was received into `staged`, then make it the session's current recording."""
    access.require_uploader(uploader, case)
    if received.size == 0:
        raise Invalid("The file is empty.")
    try:
        info = await asyncio.to_thread(probe, staged.upload)
        await asyncio.to_thread(normalise, staged.upload, staged.directory / AUDIO_FILE)
    except MediaError as exc:
        raise Unprocessable(str(exc)) from exc
    extension, media_type = media_type_for(info, received.filename or "")
    original_file = f"{ORIGINAL}.{extension}"
    staged.upload.rename(staged.directory / original_file)
    async with in_transaction():
        session, _ = await TherapySession.get_or_create(case=case, number=number)
        await Recording.filter(session=session, is_current=True).update(is_current=False)
        recording = await Recording.create(
            session=session,
            uploaded_by=uploader,
            storage_key=staged.storage_key,
            original_file=original_file,
            media_type=media_type,
            size_bytes=received.size,
            sha256=received.sha256,
            duration=info.duration,
            has_video=info.has_video,
            channels=info.channels,
            sample_rate=info.sample_rate,
        )
        await queue_transcription(recording, settings)
        # Inside the transaction: if the move fails, the rows are rolled back with it.
        staged.directory.rename(settings.recordings_dir / staged.storage_key)
    return recording


async def queue_transcription(recording: Recording, settings: Settings) -> TranscriptionJob:
    return await jobs.queue_transcription(recording, settings)


async def latest_job(recording: Recording) -> TranscriptionJob | None:
    return await TranscriptionJob.filter(recording=recording).order_by("-id").first()


async def retry(user: User, recording: Recording, settings: Settings) -> None:
    access.require_may_retry(user, recording)
    job = await latest_job(recording)
    if job is None or job.status != JobStatus.FAILED:
        raise Conflict("Only a failed transcription can be retried.")
    await queue_transcription(recording, settings)


async def put_forward_for_assessment(user: User, recording: Recording) -> None:
    access.require_may_put_forward(user, recording)
    await Recording.filter(id=recording.id).update(submitted_for_assessment_at=now())
