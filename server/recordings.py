"""Accepting a session recording: stream it in, check it is media, normalise it, store it, queue it.

A recording is accepted whole or not at all: files are assembled in an incoming directory
and moved into place only after the probe and normalisation have succeeded and the database
rows are written, so a refused or failed upload leaves nothing behind and never disturbs the
session's current recording.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from tortoise.transactions import in_transaction

from server.config import Settings
from server.models import Case, JobStatus, Recording, TherapySession, TranscriptionJob, User
from server.uploads import StreamedUpload, receive_upload
from transcription.media import MediaError, MediaInfo, normalise, probe

ORIGINAL = "original"
AUDIO_FILE = "audio.wav"


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


async def accept_recording(
    request: Request,
    settings: Settings,
    case: Case,
    number: int,
    uploader: User,
    check_fields: Callable[[dict[str, str]], None] | None = None,
) -> tuple[Recording, StreamedUpload]:
    """`check_fields` sees the form's other fields (a page's CSRF token) before anything is kept."""
    storage_key = str(uuid.uuid4())
    staging = settings.incoming_dir / storage_key
    staging.mkdir(parents=True)
    try:
        upload = await receive_upload(
            request, staging / "upload", file_field="file", limit=settings.max_upload_bytes
        )
        if check_fields is not None:
            check_fields(upload.fields)
        if upload.size == 0:
            raise HTTPException(400, "The file is empty.")
        try:
            info = await asyncio.to_thread(probe, upload.path)
            await asyncio.to_thread(normalise, upload.path, staging / AUDIO_FILE)
        except MediaError as exc:
            raise HTTPException(422, str(exc)) from exc
        extension, media_type = media_type_for(info, upload.filename or "")
        original_file = f"{ORIGINAL}.{extension}"
        upload.path.rename(staging / original_file)
        final_dir = settings.recordings_dir / storage_key
        async with in_transaction():
            session, _ = await TherapySession.get_or_create(case=case, number=number)
            await Recording.filter(session=session, is_current=True).update(is_current=False)
            recording = await Recording.create(
                session=session,
                uploaded_by=uploader,
                storage_key=storage_key,
                original_file=original_file,
                media_type=media_type,
                size_bytes=upload.size,
                sha256=upload.sha256,
                duration=info.duration,
                has_video=info.has_video,
                channels=info.channels,
                sample_rate=info.sample_rate,
            )
            await queue_transcription(recording, settings)
            # Inside the transaction: if the move fails, the rows are rolled back with it.
            staging.rename(final_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return recording, upload


async def queue_transcription(recording: Recording, settings: Settings) -> TranscriptionJob:
    return await TranscriptionJob.create(
        recording=recording, status=JobStatus.QUEUED, engine=settings.engine, model=settings.model
    )


async def latest_job(recording: Recording) -> TranscriptionJob | None:
    return await TranscriptionJob.filter(recording=recording).order_by("-id").first()
