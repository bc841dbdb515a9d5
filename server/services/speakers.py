"""Who is speaking, in the service: the trainee's voice print, and people's corrections of the roles.

Corrections are kept by time on the recording, applied to the stored transcript at once, and
applied again whenever the recording is transcribed anew. The trainee's voice print is not kept
as such: it is rebuilt from the therapist's voice in each of their recordings whose roles are
sure, so a correction of one recording also corrects the print.
"""

from __future__ import annotations

import numpy as np
from tortoise.transactions import in_transaction

from server.clock import now
from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import Recording, Transcript, User
from server.services.transcripts import correctable, opened, save_changed
from transcription.roles import (
    ROLES,
    Correction,
    CorrectionKind,
    RoleAssignment,
    apply_corrections,
    combine_voiceprints,
    set_speaker,
    swap_assignment,
    swap_roles,
)
from transcription.transcript import Transcript as TranscriptData

# Only a recording whose roles were this clear, or were set by a person, lends its therapist's
# voice to the trainee's voice print: a wrong print would mislabel every later recording.
VOICEPRINT_CONFIDENCE = 0.9


def therapist_voice(speakers: dict | None) -> np.ndarray | None:
    """The therapist's voice print from one transcript's speaker information, if its roles are sure
    and its voices were told apart."""
    if not speakers or not speakers.get("roles") or not speakers.get("voiceprints"):
        return None
    roles = speakers["roles"]
    sure = roles.get("corrected") or (roles.get("confidence") or 0.0) >= VOICEPRINT_CONFIDENCE
    apart = all(gate["passed"] for gate in speakers.get("gates", []) if gate["name"] == "voices")
    if roles.get("therapist") is None or not sure or not apart:
        return None
    vector = speakers["voiceprints"].get(str(roles["therapist"]))
    return None if vector is None else np.asarray(vector, dtype=np.float32)


async def trainee_voiceprint(trainee_id: int, encoder: str, leaving_out: int | None = None
                             ) -> tuple[np.ndarray | None, int]:
    """The trainee's voice print from their recordings labelled with `encoder` (another encoder's
    prints are not comparable) but `leaving_out`, the one being labelled, and how many recordings
    it was made from."""
    rows = Transcript.filter(recording__session__case__trainee_id=trainee_id)
    if leaving_out is not None:
        rows = rows.exclude(recording_id=leaving_out)
    prints = [p for info in await rows.values_list("speakers", flat=True)
              if info and info.get("encoder") == encoder and (p := therapist_voice(info)) is not None]
    return combine_voiceprints(prints), len(prints)


async def save_correction(settings: Settings, recording: Recording, row: Transcript, correction: Correction,
                          by: User) -> dict:
    """Apply the correction to the stored transcript and keep it, with who made it and when, on the recording."""
    speakers = dict(row.speakers or {})
    roles = RoleAssignment.from_dict(speakers["roles"]) if speakers.get("roles") else None
    before = opened(settings, recording, row)
    data = apply_corrections(TranscriptData.from_dict(before), [correction], roles).to_dict()
    fields: tuple[str, ...] = ()
    if correction.kind == CorrectionKind.THERAPIST_AT and roles is not None:
        speakers["roles"] = swap_assignment(roles).to_dict()
        row.speakers = speakers
        fields = ("speakers",)
    async with in_transaction():
        await save_changed(settings, recording, row, before, data, fields)
        # Read once the transcript is locked: a correction saved just before is kept in the list.
        made = await Recording.filter(id=recording.id).first().values_list("speaker_corrections", flat=True)
        await Recording.filter(id=recording.id).update(
            speaker_corrections=[*made, {**correction.to_dict(), "by": by.username, "at": now().isoformat()}])
    return data


async def swap(settings: Settings, user: User, recording_id: int) -> dict:
    recording, row = await correctable(user, recording_id)
    try:
        correction = swap_roles(TranscriptData.from_dict(opened(settings, recording, row)))
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    return await save_correction(settings, recording, row, correction, user)


def speaker_correction(start, end, speaker) -> Correction:
    """A correction from what a person sent, or a 400 saying what is wrong with it."""
    if speaker not in (*ROLES, None):
        raise Invalid("The speaker is the therapist, the patient or unknown (null).")
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError) as exc:
        raise Invalid("'start' and 'end' are times in seconds.") from exc
    if not 0 <= start < end:
        raise Invalid("'start' must be before 'end', both from 0 s.")
    return set_speaker(start, end, speaker)
