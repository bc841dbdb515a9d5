"""Reading and writing a recording's transcript: the one way every route, page, service and job does.

The stored transcript already carries people's corrections (they are applied when made, and again
after re-transcription), so what is read here is what a rater should see. With a master key configured
it is stored sealed under the recording's data key (server/services/encryption.py), and opened here.
Who may read it is the same as who may read the recording (`access.readable_recording`), decided
before coming here.
"""

from __future__ import annotations

from server.config import Settings
from server.errors import Conflict, Gone
from server.models import Recording, Transcript
from server.services.encryption import envelope_for, open_transcript, seal_transcript
from server.services.recordings import latest_job
from transcription.transcript import Transcript as TranscriptData


async def stored_transcript(recording: Recording) -> Transcript | None:
    """The row (its `data` as stored: read it through `opened`)."""
    return await Transcript.get_or_none(recording_id=recording.id)


def opened(settings: Settings, recording: Recording, row: Transcript) -> dict:
    return open_transcript(envelope_for(settings, recording), row.data)


def sealed(settings: Settings, recording: Recording, data: dict) -> dict:
    """What to store in Transcript.data for the transcript `data`."""
    return seal_transcript(envelope_for(settings, recording), data)


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
         "speaker_confidence": s.get("speaker_confidence"), "text": s["text"], "inaudible": s.get("inaudible", False)}
        for i, s in enumerate(data.get("segments", []))
    ]


async def segment_count(settings: Settings, recording: Recording) -> int | None:
    data = await transcript_dict(settings, recording)
    return len(data.get("segments", [])) if data is not None else None


async def quality_flag(recording_id: int) -> str | None:
    """Why the recording failed a quality gate, for the queue and the rating page; None if it passed
    (or is not transcribed yet)."""
    speakers = await Transcript.filter(recording_id=recording_id).values_list("speakers", flat=True)
    return (speakers[0] or {}).get("flag") if speakers else None
