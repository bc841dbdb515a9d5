"""Everything held about one case, as one ZIP archive, for a subject-access request (course leads).

- `case.json`: the case, its IPAF versions, every recording (consent, what was deleted and why) with its
  ratings (scores, comments, evidence) and their history, and the on-model suggestion's last verdict;
- `transcripts/session-NN-recording-ID.json`: each transcript still held;
- `media/session-NN-recording-ID.<ext>`: each original still held (opened, when stored sealed);
- `audit.csv`: every audit row about the case.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from pathlib import Path

from server import access
from server.config import Settings
from server.models import Case, CaseIpaf, Rating, RatingEvent, Recording, SuggestedVerdict, Transcript, User
from server.services import audit_log
from server.services.media import download_original
from server.services.suggestions import ipaf_json
from server.services.transcripts import opened


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _name(recording: Recording) -> str:
    return f"session-{recording.session.number:02d}-recording-{recording.id}"


async def _rating_json(rating: Rating) -> dict:
    rater = await User.get(id=rating.rater_id)
    events = await RatingEvent.filter(rating=rating).select_related("actor").order_by("id")
    return {"id": rating.id, "rater": rater.username, "kind": rating.kind.value, "status": rating.status.value,
            "phase": rating.phase.value, "scale_version": rating.scale_version, "scores": rating.scores,
            "comments": rating.comments, "evidence": rating.evidence, "overall_comment": rating.overall_comment,
            "total": rating.total, "mean": rating.mean, "passed": rating.passed, "submitted_at": _iso(rating.submitted_at),
            "history": [{"action": e.action.value, "by": e.actor.username, "reason": e.reason, "at": _iso(e.created_at)}
                        for e in events]}


async def _recording_json(recording: Recording) -> dict:
    deleted_by = await User.get_or_none(id=recording.deleted_by_id) if recording.deleted_by_id else None
    suggested = await SuggestedVerdict.get_or_none(recording=recording)
    return {
        "id": recording.id, "session": recording.session.number, "phase": recording.session.phase.value,
        "uploaded_at": _iso(recording.created_at), "is_current": recording.is_current,
        "duration": recording.duration, "media_type": recording.media_type, "sha256": recording.sha256,
        "consent": {"date": _iso(recording.consent_date), "confirmed_at": _iso(recording.consent_confirmed_at),
                    "withdrawn_at": _iso(recording.consent_withdrawn_at)},
        "speaker_corrections": recording.speaker_corrections,
        "submitted_for_assessment_at": _iso(recording.submitted_for_assessment_at),
        "feedback_released_at": _iso(recording.feedback_released_at),
        "media_deleted_at": _iso(recording.media_deleted_at),
        "transcript_deleted_at": _iso(recording.transcript_deleted_at),
        "deleted": None if recording.deleted_at is None else {
            "at": _iso(recording.deleted_at), "by": deleted_by.username if deleted_by else None,
            "reason": recording.deletion_reason},
        "ratings": [await _rating_json(r) for r in await Rating.filter(recording=recording).order_by("id")],
        "suggested_verdict": None if suggested is None else {
            "verdict": suggested.verdict, "phase": suggested.phase.value, "model": suggested.model_version,
            "ipaf_version": suggested.ipaf_version, "made_at": _iso(suggested.made_at)},
    }


async def write_case_archive(settings: Settings, user: User, case: Case, path: Path) -> None:
    access.require_lead(user, "A case's records are exported for a subject-access request by a course lead.")
    recordings = await Recording.filter(session__case=case).select_related("session").order_by("session__number", "id")
    document = {
        "case": {"id": case.id, "code": case.code, "trainee": (await User.get(id=case.trainee_id)).username,
                 "created_at": _iso(case.created_at)},
        "ipaf_versions": [ipaf_json(v) for v in await CaseIpaf.filter(case=case).order_by("version")],
        "recordings": [await _recording_json(r) for r in recordings],
    }
    by_id = {r.id: r for r in recordings}
    transcripts = {row.recording_id: opened(settings, by_id[row.recording_id], row)
                   for row in await Transcript.filter(recording_id__in=list(by_id))}
    audit = io.StringIO()
    writer = csv.writer(audit, lineterminator="\n")
    writer.writerow(audit_log.COLUMNS)
    for event in reversed(await audit_log.events(audit_log.Filters(case=case.id), limit=None)):
        row = audit_log.row(event)
        writer.writerow(["" if row[c] is None else row[c] for c in audit_log.COLUMNS])
    media = [(f"media/{_name(r)}{Path(r.original_file).suffix}", r) for r in recordings if r.media_deleted_at is None]
    await asyncio.to_thread(_write, settings, path, document, transcripts, recordings, audit.getvalue(), media)


def _write(settings: Settings, path: Path, document: dict, transcripts: dict, recordings: list[Recording],
           audit: str, media: list[tuple[str, Recording]]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("case.json", json.dumps(document, indent=2, ensure_ascii=False))
        for recording in recordings:
            if recording.id in transcripts:
                archive.writestr(f"transcripts/{_name(recording)}.json",
                                 json.dumps(transcripts[recording.id], ensure_ascii=False))
        archive.writestr("audit.csv", audit)
        for name, recording in media:
            local = path.parent / "media-file"
            download_original(settings, recording, local)
            # Media is compressed already.
            archive.write(local, name, compress_type=zipfile.ZIP_STORED)
            local.unlink()
