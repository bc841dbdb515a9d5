"""Deleting a recording's media and transcript: on demand, when the patient withdraws consent, and when
they are due under the retention schedule (server/services/retention.py).

Files go from storage, the transcript row from the database; the recording's row stays as the tombstone
(what, when, why, by whom), and its ratings keep their scores, which are training records, but lose the
evidence moments that pointed into the transcript. Once neither media nor transcript is kept, the
recording's data key is destroyed (crypto-shredding: copies of its sealed files are unreadable). A job
still queued or running for the recording is ended, so that no transcript is written after it was deleted.
"""

from __future__ import annotations

import logging

from tortoise.transactions import in_transaction

from server import access
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Gone, Invalid
from server.models import ClassifierJudgement, JobStatus, Rating, Recording, Transcript, TranscriptionJob, User
from server.services.encryption import shred_when_emptied
from server.storage import storage_for

log = logging.getLogger("dit.deletion")

REASON_LIMIT = 2000
ENDED_JOB = "The recording was deleted."


def check_reason(reason, *, required: bool) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if required and not text:
        raise Invalid("Give the reason: it is kept with the record of what was deleted.")
    if len(text) > REASON_LIMIT:
        raise Invalid(f"The reason is longer than {REASON_LIMIT} characters.")
    return text


def require_whole(recording: Recording) -> None:
    """Nothing more is done with a deleted recording: no transcription, correction or rating."""
    if recording.deleted_at is not None:
        raise Gone(f"This recording was deleted on {recording.deleted_at:%d %b %Y}.")


async def delete_media(settings: Settings, recording: Recording) -> None:
    """The recording's files, from storage (every file under its key); the row records when."""
    if recording.media_deleted_at is None:
        await storage_for(settings).delete_prefix(recording.storage_key)
        recording.media_deleted_at = now()
        await Recording.filter(id=recording.id).update(media_deleted_at=recording.media_deleted_at)
    await shred_when_emptied(recording)


async def delete_transcript(recording: Recording) -> None:
    """The transcript, and what pointed into it: ratings' evidence moments and supervisors' judgements of
    suggestions (their lines are gone, so they can no longer teach the classifier)."""
    if recording.transcript_deleted_at is not None:
        return
    recording.transcript_deleted_at = now()
    async with in_transaction():
        await TranscriptionJob.filter(recording_id=recording.id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
                                      ).update(status=JobStatus.FAILED, error=ENDED_JOB, finished_at=now())
        await Transcript.filter(recording_id=recording.id).delete()
        await ClassifierJudgement.filter(recording_id=recording.id).delete()
        await Rating.filter(recording_id=recording.id).update(evidence={})
        await Recording.filter(id=recording.id).update(transcript_deleted_at=recording.transcript_deleted_at)
        await shred_when_emptied(recording)


async def _delete_all(settings: Settings, actor: User, recording: Recording, reason: str, **marks) -> None:
    # The tombstone first: from then on nothing new is done with the recording, even if removing its files
    # is interrupted (the retention run finishes the job: deleted recordings' media are always due).
    recording.deleted_at, recording.deleted_by_id, recording.deletion_reason = now(), actor.id, reason
    for name, value in marks.items():
        setattr(recording, name, value)
    await Recording.filter(id=recording.id).update(deleted_at=recording.deleted_at, deleted_by_id=actor.id,
                                                   deletion_reason=reason, **marks)
    await delete_transcript(recording)
    await delete_media(settings, recording)
    log.info("recording %d deleted by user %d", recording.id, actor.id)


async def delete_recording(settings: Settings, actor: User, recording: Recording, reason) -> None:
    """A trainee deletes their own recording before anyone rates it; a course lead any, with a reason."""
    require_whole(recording)
    rated = await Rating.exists(recording_id=recording.id)
    access.require_may_delete_recording(actor, recording, rated=rated)
    reason = check_reason(reason, required=access.sees_everything(actor))
    await _delete_all(settings, actor, recording, reason or "Deleted by the trainee before it was rated.")


async def withdraw_consent(settings: Settings, actor: User, recording: Recording, reason) -> None:
    """The patient withdrew their consent: the media and transcript go at once, whoever has rated it."""
    access.require_may_withdraw_consent(actor, recording)
    require_whole(recording)
    if recording.consent_withdrawn_at is not None:
        raise Conflict("Consent was already withdrawn for this recording.")
    reason = check_reason(reason, required=True)
    await _delete_all(settings, actor, recording, f"Consent withdrawn: {reason}", consent_withdrawn_at=now())
