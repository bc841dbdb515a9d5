"""People's corrections of a transcript's text, in the service: made on the stored transcript at once,
kept (sealed with it) in the order made, and made again after a new transcription wherever their
lines still are (transcription/edits.py). Everything that reads the transcript (pages, exports, the
rating page's evidence, the suggestion classifier, the case export) reads the corrected text.
"""

from __future__ import annotations

from server import access
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import Recording, Transcript, User
from server.services.transcripts import opened, opened_edits, save_changed, sealed_edits
from transcription.edits import STALE, EditKind, EditRefused, LineEdit, apply_edit, replay
from transcription.transcript import Transcript as TranscriptData


def _seconds(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"'{name}' is a time in seconds.") from exc


def line_edit(body: dict, transcript: TranscriptData, by: User) -> LineEdit:
    """The edit a person asked for: `kind` text (with `text`), merge (the line from `start` and the
    next one, whose end is `end`) or split (at the line's word number `word`, counted from 0); a 400
    saying what is wrong with the request."""
    start, end = _seconds(body.get("start"), "start"), _seconds(body.get("end"), "end")
    split_at = None
    if body.get("kind") == EditKind.SPLIT.value:
        word = body.get("word")
        line = next((s for s in transcript.segments if abs(s.start - start) < 1e-3 and abs(s.end - end) < 1e-3), None)
        if not isinstance(word, int) or isinstance(word, bool):
            raise Invalid("'word' is the number of the word that begins the new line, counting from 0.")
        if line is None:
            raise Conflict(STALE)
        if not 0 < word < len(line.words):
            raise Invalid(f"'word' is between 1 and {len(line.words) - 1} for this line." if len(line.words) > 1
                          else "A line of one word cannot be split.")
        split_at = line.words[word].start
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise Invalid("'text' is the line's words.")
    try:
        return LineEdit(kind=body.get("kind"), start=start, end=end, by=by.username, at=now().isoformat(),
                        text=text.strip() if text else text, split_at=split_at)
    except EditRefused as exc:
        raise Invalid(str(exc)) from exc


async def save_edit(settings: Settings, recording: Recording, row: Transcript, body: dict, by: User) -> dict:
    """Make the edit on the stored transcript and keep it; a 409 when the line is not there (the page
    was stale) or the edit cannot be made there."""
    before = opened(settings, recording, row)
    transcript = TranscriptData.from_dict(before)
    edit = line_edit(body, transcript, by)
    # The tolerance of transcription/edits.py is for a new transcription's lines; a person names lines
    # exactly as they were shown, so a page shown before someone else's merge or split is refused, not
    # applied to the changed lines.
    starts, ends = {round(s.start, 3) for s in transcript.segments}, {round(s.end, 3) for s in transcript.segments}
    if round(edit.start, 3) not in starts or round(edit.end, 3) not in ends:
        raise Conflict(STALE)
    try:
        data = apply_edit(transcript, edit).to_dict()
    except EditRefused as exc:
        raise Conflict(str(exc)) from exc
    row.edits = sealed_edits(settings, recording, [*opened_edits(settings, recording, row),
                                                   {**edit.to_dict(), "made": True}])
    await save_changed(settings, recording, row, before, data, fields=("edits",))
    return data


def carried_over(settings: Settings, recording: Recording, previous: Transcript | None,
                 transcript: TranscriptData) -> tuple[TranscriptData, dict]:
    """A new transcription with people's corrections made again where their lines still are: the previous
    transcription's edits of the text and the recording's corrections of who spoke a stretch, in the order
    they were made. Also the edits to keep with it (each saying whether it was made this time)."""
    edits = [] if previous is None else opened_edits(settings, recording, previous)
    transcript, made = replay(transcript, edits, recording.speaker_corrections)
    return transcript, sealed_edits(settings, recording, [{**e, "made": m} for e, m in zip(edits, made, strict=True)])


def edit_log(settings: Settings, user: User, recording: Recording, row: Transcript) -> list[dict]:
    """Every correction of the text, oldest first: kind, the line's times, the typed text or the
    split's time, who (where `user` may see it) and when, and whether it is made on the present
    transcription."""
    return [edit if access.sees_who_corrected(user, edit.get("by")) else {**edit, "by": None}
            for edit in opened_edits(settings, recording, row)]
