"""Session recordings: accepting an upload (check it is media, store it, queue it), the working
audio a job reads, retrying a failed transcription, and putting a tape forward for assessment.

A recording is accepted whole or not at all: the upload is received into a staging directory, probed
there (no decoding: the web process never does that work), put into storage, and only then are the
database rows written; if they cannot be, the stored object is deleted again. A refused or failed
upload leaves nothing behind and never disturbs the session's current recording. Normalising to
16 kHz mono is the worker's, from storage, in a scratch directory of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tortoise.transactions import in_transaction

from server import access, jobs
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Gone, Invalid, Unprocessable
from server.models import (
    Case,
    JobStatus,
    Rating,
    RatingStatus,
    Recording,
    TherapySession,
    Transcript,
    TranscriptionJob,
    User,
)
from server.services.consent import Consent
from server.services.encryption import new_recording_key, wrapped_fields
from server.services.media import download_original, store_original
from server.storage import storage_for
from server.workdirs import workdir
from transcription.formats import clock
from transcription.media import MediaError, MediaInfo, check_ending, normalise, probe

log = logging.getLogger("dit.recordings")

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


@dataclass(frozen=True)
class WorkingAudio:
    """Local files a worker reads one recording from: the original upload (its channels tell the
    speakers apart) and the 16 kHz mono audio the speech engines take."""

    original: Path
    audio: Path


@contextlib.contextmanager
def working_audio(settings: Settings, recording: Recording) -> Iterator[WorkingAudio]:
    """The recording's audio as local files for the length of one job: the original, downloaded from
    storage into a scratch directory (and opened there, when sealed), and its 16 kHz mono WAV, made there. The directory is removed
    afterwards whatever happens (and, if the process dies, by the storage sweep). The one seam
    between the worker and where recordings are kept; plain synchronous code, for a worker thread or
    child process. FileNotFoundError when the original is missing from storage, MediaError when it
    cannot be decoded."""
    with workdir(settings.scratch_dir) as scratch:
        original = scratch / recording.original_file
        download_original(settings, recording, original)
        audio = scratch / AUDIO_FILE
        normalise(original, audio, limit=settings.max_duration)
        yield WorkingAudio(original, audio)


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
    """A fresh staging directory, held for the length of the upload and removed afterwards whatever
    happened (or by the storage sweep, if this process dies mid-upload)."""
    with workdir(settings.incoming_dir) as directory:
        yield Staging(directory.name, directory)


def check_media(path: Path, max_duration: int) -> MediaInfo:
    """What ffprobe finds in the staged upload, or Unprocessable: not media, no audio, too long, or cut
    short. Reads headers and seeks; never decodes the whole recording, so a five-hour file that would
    expand to gigabytes is refused at the cost of a probe."""
    try:
        info = probe(path)
        if info.duration > max_duration:
            raise Unprocessable(f"The recording is {clock(info.duration)} long; the longest accepted is "
                                f"{clock(max_duration)}.")
        check_ending(path, info)
    except MediaError as exc:
        raise Unprocessable(str(exc)) from exc
    return info


async def rated_attempt(case: Case, number: int) -> Recording | None:
    """The session's current recording if a rater has submitted a rating of it or its result is released:
    replacing it then needs the uploader's confirmation."""
    current = await Recording.get_or_none(session__case=case, session__number=number, is_current=True,
                                          deleted_at__isnull=True)
    if current is None:
        return None
    if current.feedback_released_at is not None or await Rating.exists(recording=current,
                                                                       status=RatingStatus.SUBMITTED):
        return current
    return None


def replace_warning(case: Case, number: int, rated: Recording) -> str:
    released = " and its result has been released" if rated.feedback_released_at else ""
    return (f"Session {number} of {case.code} already has a rated recording{released}. Uploading another makes "
            "it a new attempt at this session, to be rated afresh: the rated recording keeps its ratings and "
            "result, which still count towards accreditation. To go ahead, confirm the replacement "
            "(confirm_replace=true).")


async def accept_recording(settings: Settings, staged: Staging, received: ReceivedFile, case: Case, number: int,
                           uploader: User, consent: Consent, confirm_replace: bool = False) -> Recording:
    """Probe what was received into `staged`, store it (sealed under a new data key, when a master key is
    configured), then make it the session's current recording (the one it replaces is marked replaced: its
    media is kept for DIT_RETAIN_REPLACED_DAYS, unless it was rated). A rated recording is replaced only
    with `confirm_replace`: otherwise Conflict, saying what would happen."""
    access.require_uploader(uploader, case)
    if received.size == 0:
        raise Invalid("The file is empty.")
    rated = await rated_attempt(case, number)
    if rated is not None and not confirm_replace:
        raise Conflict(replace_warning(case, number, rated))
    info = await asyncio.to_thread(check_media, staged.upload, settings.max_duration)
    extension, media_type = media_type_for(info, received.filename or "")
    original_file = f"{ORIGINAL}.{extension}"
    storage = storage_for(settings)
    data_key = new_recording_key(settings)
    await store_original(settings, f"{staged.storage_key}/{original_file}", staged.upload, data_key)
    try:
        async with in_transaction():
            session, _ = await TherapySession.get_or_create(case=case, number=number)
            await Recording.filter(session=session, is_current=True).update(is_current=False, replaced_at=now())
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
                consent_date=consent.given_on,
                consent_confirmed_at=now(),
                **wrapped_fields(settings, data_key, staged.storage_key),
            )
            await queue_transcription(recording, settings)
    except BaseException:
        # No row points to the object: take it away again. Should that fail too, the storage sweep
        # removes it within the hour; the error the caller sees is the first one.
        try:
            await storage.delete_prefix(staged.storage_key)
        except Exception as exc:
            log.warning("upload %s: stored object not removed after a failed commit (%s)", staged.storage_key,
                        type(exc).__name__)
        raise
    return recording


def require_media(recording: Recording) -> None:
    if recording.media_deleted_at is not None:
        raise Gone(f"This recording's media was deleted on {recording.media_deleted_at:%d %b %Y}.")


async def queue_transcription(recording: Recording, settings: Settings) -> TranscriptionJob:
    return await jobs.queue_transcription(recording, settings)


async def latest_job(recording: Recording) -> TranscriptionJob | None:
    return await TranscriptionJob.filter(recording=recording).order_by("-id").first()


async def retry(user: User, recording: Recording, settings: Settings) -> None:
    access.require_may_retry(user, recording)
    require_media(recording)
    job = await latest_job(recording)
    if job is None or job.status != JobStatus.FAILED:
        raise Conflict("Only a failed transcription can be retried.")
    await queue_transcription(recording, settings)


async def put_forward_for_assessment(user: User, recording: Recording) -> str | None:
    """Put forward; the quality check it failed, if any (the person was warned: see `note_quality_warning`)."""
    access.require_may_put_forward(user, recording)
    await Recording.filter(id=recording.id).update(submitted_for_assessment_at=now())
    return await note_quality_warning(recording, user, "put forward")


async def quality_flag(recording_id: int) -> str | None:
    """Why the recording failed a quality gate, for the queue and the rating page; None if it passed
    (or is not transcribed yet)."""
    speakers = await Transcript.filter(recording_id=recording_id).values_list("speakers", flat=True)
    return (speakers[0] or {}).get("flag") if speakers else None


async def note_quality_warning(recording: Recording, user: User, action: str) -> str | None:
    """When the recording failed a quality check, keep on it that `user` went on to `action` it despite
    the warning the pages show beside that button; the check's message, or None."""
    flag = await quality_flag(recording.id)
    if flag:
        await Recording.filter(id=recording.id).update(quality_warnings=[
            *(await Recording.get(id=recording.id)).quality_warnings,
            {"action": action, "by": user.username, "at": now().isoformat(), "flag": flag}])
    return flag
