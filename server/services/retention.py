"""The retention schedule: what is deleted, when, and why.

- A tape's media goes `retain_media_days` after its official result was released; a tape never released
  goes after as long without activity (its upload, being put forward, any rating saved).
- A replaced recording's media goes `retain_replaced_days` after the upload that replaced it.
- Transcripts follow the same rules with `retain_transcript_days`.
- A deleted recording's media and transcript are always due: a deletion interrupted half-way is finished.

`run` is called daily by every transcription worker (`keep_retained`) and on demand by
`dit retention run [--dry-run]`, which lists what it deletes and why. Each deletion is on the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tortoise.expressions import Q
from tortoise.functions import Max

from server import audit_trail
from server.clock import now, pause
from server.config import Settings
from server.models import AuditAction, AuditObject, Rating, RatingStatus, Recording, Transcript
from server.services import deletion

log = logging.getLogger("dit.retention")

RUN_EVERY_SECONDS = 24 * 3600
ACTOR = "retention schedule"


class Part(str, Enum):
    MEDIA = "media"
    TRANSCRIPT = "transcript"


@dataclass(frozen=True)
class Removal:
    recording_id: int
    case_code: str
    session: int
    part: Part
    why: str

    def line(self) -> str:
        return f"recording {self.recording_id} ({self.case_code} session {self.session}): {self.part.value}, {self.why}"


def _why_due(recording: Recording, last_activity: datetime, days: int, days_replaced: int, at: datetime,
             rated: bool = False) -> str | None:
    # A rated recording that was replaced is a past attempt whose result stands: it keeps the schedule of
    # a rated tape rather than the shorter one of a replaced upload.
    if recording.deleted_at is not None:
        return f"the recording was deleted on {recording.deleted_at:%Y-%m-%d}"
    if not recording.is_current and recording.replaced_at is not None and not rated \
            and recording.replaced_at <= at - timedelta(days=days_replaced):
        return f"replaced on {recording.replaced_at:%Y-%m-%d}, more than {days_replaced} days ago"
    if recording.feedback_released_at is not None:
        if recording.feedback_released_at <= at - timedelta(days=days):
            return f"its result was released on {recording.feedback_released_at:%Y-%m-%d}, more than {days} days ago"
        return None
    if last_activity <= at - timedelta(days=days):
        return f"never released, and nothing done with it since {last_activity:%Y-%m-%d}, more than {days} days ago"
    return None


async def due(settings: Settings, at: datetime | None = None) -> list[Removal]:
    """Everything the schedule says should be gone by `at` (now) and is not yet."""
    at = at or now()
    last_rated = dict(await Rating.all().group_by("recording_id").annotate(last=Max("updated_at"))
                      .values_list("recording_id", "last"))
    submitted = set(await Rating.filter(status=RatingStatus.SUBMITTED).values_list("recording_id", flat=True))
    transcribed = set(await Transcript.all().values_list("recording_id", flat=True))
    recordings = await Recording.filter(Q(media_deleted_at__isnull=True) | Q(transcript_deleted_at__isnull=True)
                                        ).select_related("session__case").order_by("id")
    removals = []
    for recording in recordings:
        activity = [recording.created_at, recording.submitted_for_assessment_at, last_rated.get(recording.id)]
        last_activity = max(moment for moment in activity if moment is not None)
        where = (recording.id, recording.session.case.code, recording.session.number)
        if recording.media_deleted_at is None:
            why = _why_due(recording, last_activity, settings.retain_media_days, settings.retain_replaced_days, at,
                           rated=recording.id in submitted or recording.feedback_released_at is not None)
            if why:
                removals.append(Removal(*where, Part.MEDIA, why))
        if recording.id in transcribed and recording.transcript_deleted_at is None:
            days = settings.retain_transcript_days
            why = _why_due(recording, last_activity, days, days, at)
            if why:
                removals.append(Removal(*where, Part.TRANSCRIPT, why))
    return removals


async def run(settings: Settings, *, dry_run: bool = False, at: datetime | None = None) -> list[Removal]:
    """Delete what is due (nothing, with `dry_run`); returns what was (or would be) deleted."""
    removals = await due(settings, at)
    if dry_run:
        return removals
    for removal in removals:
        recording = await Recording.get(id=removal.recording_id).select_related("session")
        if removal.part == Part.MEDIA:
            await deletion.delete_media(settings, recording)
        else:
            await deletion.delete_transcript(recording)
        await audit_trail.record_now(
            AuditAction.DELETE, AuditObject.MEDIA if removal.part == Part.MEDIA else AuditObject.TRANSCRIPT,
            object_id=recording.id, recording_id=recording.id, case_id=recording.session.case_id,
            username=ACTOR, route="retention")
    if removals:
        log.info("retention: %d deletions", len(removals))
    return removals


async def keep_retained(settings: Settings, stop: asyncio.Event) -> None:
    """Run the schedule now and once a day until `stop`; an error is logged and tried again the next day."""
    while not stop.is_set():
        try:
            await run(settings)
        except Exception:
            log.exception("the retention run failed; it is tried again in a day")
        await pause(stop, RUN_EVERY_SECONDS)
