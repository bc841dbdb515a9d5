"""Reading and writing a recording's transcript: the one way every route, page, service and job does.

The stored transcript already carries people's corrections (they are applied when made, and again
after re-transcription), so what is read here is what a rater should see. With a master key configured
it is stored sealed under the recording's data key (server/services/encryption.py), and opened here.
Who may read it is the same as who may read the recording (`access.readable_recording`), decided
before coming here.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from server import access
from server.config import Settings
from server.errors import Conflict, Gone
from server.models import ClassifierJudgement, Rating, Recording, Transcript, User
from server.services.encryption import TRANSCRIPT_EDITS, envelope_for, open_transcript, seal_transcript
from server.services.recordings import latest_job
from transcription.transcript import Transcript as TranscriptData
from transcription.transcript import line_map

CHANGED = "The transcript was changed by someone else meanwhile: reload the page to see it, then try again."


async def correctable(user: User, recording_id: int) -> tuple[Recording, Transcript]:
    """The recording and its transcript's row, for a person who may correct its speakers or text."""
    recording = await access.readable_recording(user, recording_id)
    access.require_may_correct_transcript(user, recording)
    row = await stored_transcript(recording)
    if row is None:
        raise Conflict("There is no transcript to correct yet.")
    return recording, row


async def stored_transcript(recording: Recording) -> Transcript | None:
    """The row (its `data` as stored: read it through `opened`)."""
    return await Transcript.get_or_none(recording_id=recording.id)


def opened(settings: Settings, recording: Recording, row: Transcript) -> dict:
    return open_transcript(envelope_for(settings, recording), row.data)


def sealed(settings: Settings, recording: Recording, data: dict) -> dict:
    """What to store in Transcript.data for the transcript `data`."""
    return seal_transcript(envelope_for(settings, recording), data)


def opened_edits(settings: Settings, recording: Recording, row: Transcript) -> list[dict]:
    """People's corrections of the text, in the order made (transcription.edits.LineEdit, as dicts)."""
    return open_transcript(envelope_for(settings, recording), row.edits, TRANSCRIPT_EDITS).get("edits", []) \
        if row.edits else []


def sealed_edits(settings: Settings, recording: Recording, edits: list[dict]) -> dict:
    return seal_transcript(envelope_for(settings, recording), {"edits": edits}, TRANSCRIPT_EDITS)


async def save_changed(settings: Settings, recording: Recording, row: Transcript, before: dict, after: dict,
                       fields: tuple[str, ...] = ()) -> None:
    """Store a person's change of the transcript (`before` to `after`, as dicts) with `fields` of the
    row also changed, in one transaction with the ratings' evidence moved along: evidence names lines
    by number, and a merge, a split or a change of speaker renumbers them."""
    moved = line_map(TranscriptData.from_dict(before).segments, TranscriptData.from_dict(after).segments)
    read = row.data
    async with in_transaction():
        # Locked and compared with what the change was made on: of two people saving at once, or a person
        # and a new transcription, the second is refused rather than writing over the first.
        stored = await Transcript.filter(id=row.id).select_for_update().first()
        if stored is None or stored.data != read:
            raise Conflict(CHANGED)
        row.data = sealed(settings, recording, after)
        await row.save(update_fields=["data", *fields])
        await follow_lines(recording.id, moved)


async def follow_lines(recording_id: int, moved: dict[int, list[int]]) -> None:
    """Ratings' evidence and raters' judgements of suggestions, which name lines by number, moved to
    where their lines went (`moved`, from `line_map`)."""
    def follow(evidence: dict | None) -> dict:
        moved_evidence = {item: sorted({j for i in lines for j in moved.get(i, [i])})
                          for item, lines in (evidence or {}).items()}
        return {item: lines for item, lines in moved_evidence.items() if lines}

    for rating in await Rating.filter(recording_id=recording_id).select_for_update():
        evidence = follow(rating.evidence)
        if evidence != rating.evidence:
            rating.evidence = evidence
            await rating.save(update_fields=["evidence"])
    # The result as the trainee was shown it names lines too.
    released = await Recording.filter(id=recording_id).first().values_list("released_result", flat=True)
    if released and released.get("evidence"):
        await Recording.filter(id=recording_id).update(
            released_result={**released, "evidence": follow(released["evidence"])})
    # A judgement goes with the first part of a split line; of two about merged lines, the newest is kept.
    # Each is first moved out of the way (to minus its id), as lines' numbers are unique per rater and label.
    judgements = await ClassifierJudgement.filter(recording_id=recording_id).order_by("-created_at", "-id")
    if all(moved.get(j.segment_index, [j.segment_index])[:1] == [j.segment_index] for j in judgements):
        return
    for judgement in judgements:
        await ClassifierJudgement.filter(id=judgement.id).update(segment_index=-judgement.id)
    taken = set()
    for judgement in judgements:
        lines = moved.get(judgement.segment_index, [judgement.segment_index])
        key = (lines[0] if lines else None, judgement.label, judgement.judged_by_id)
        if not lines or key in taken:
            await judgement.delete()
            continue
        taken.add(key)
        await ClassifierJudgement.filter(id=judgement.id).update(segment_index=lines[0])


def as_shown_to(user: User, data: dict) -> dict:
    """The transcript `data` with who corrected each line left out where `user` may not see it."""
    def shown(segment: dict) -> dict:
        edited = segment.get("edited")
        if not edited or access.sees_who_corrected(user, edited.get("by")):
            return segment
        return {**segment, "edited": {**edited, "by": None}}

    return {**data, "segments": [shown(s) for s in data.get("segments", [])]}


async def transcript_dict(settings: Settings, recording: Recording) -> dict | None:
    row = await stored_transcript(recording)
    return None if row is None else opened(settings, recording, row)


async def read_transcript(settings: Settings, recording: Recording) -> TranscriptData:
    """The transcript; `Gone` once deleted, `Conflict` saying how far transcription has got before it is made."""
    if recording.transcript_deleted_at is not None:
        raise Gone(f"This recording's transcript was deleted on {recording.transcript_deleted_at:%d %b %Y}.")
    data = await transcript_dict(settings, recording)
    if data is None:
        job = await latest_job(recording)
        state = f"{job.status.value}, {job.progress * 100:.0f}%" if job else "not queued"
        raise Conflict(f"The transcript is not ready yet ({state}).")
    return TranscriptData.from_dict(data)


async def transcript_segments(settings: Settings, recording: Recording) -> list[dict] | None:
    """Each line's index, times, speaker (with its confidence) and text, or None while there is no transcript."""
    data = await transcript_dict(settings, recording)
    if data is None:
        return None
    return [
        {"index": i, "start": s["start"], "end": s["end"], "speaker": s.get("speaker"),
         "speaker_confidence": s.get("speaker_confidence"), "text": s["text"], "inaudible": s.get("inaudible", False),
         "edited": s.get("edited")}
        for i, s in enumerate(data.get("segments", []))
    ]


async def segment_count(settings: Settings, recording: Recording) -> int | None:
    data = await transcript_dict(settings, recording)
    return len(data.get("segments", [])) if data is not None else None
