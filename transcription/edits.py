"""People's corrections of a transcript's text: a line's words retyped, a line merged with the next,
a line split at a word.

Like corrections of speakers (transcription/roles/corrections.py) they are kept by time rather than
by line number, so that they still apply after the recording is transcribed again, wherever lines
still begin and end within `TOLERANCE` of where they did. Retyped words take their times from the
recognised words they match, and the others share out the time between, so that a corrected line
still plays from the right place and can still be split by speaker at a word.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from transcription.transcript import Edited, Segment, Transcript, Word

# How far a line of a new transcription may begin or end from where the corrected line did and
# still be taken for the same line: about a word's length, Whisper's slack at a line's edge.
TOLERANCE = 0.5
MAX_TEXT = 2000
STALE = ("No line begins and ends there any more: the transcript has changed since it was shown. "
         "Reload it and try again.")


class EditKind(str, Enum):
    TEXT = "text"
    MERGE = "merge"
    SPLIT = "split"


class EditRefused(ValueError):
    """The edit cannot be made on this transcript, and why, in words for the person who asked."""


@dataclass(frozen=True)
class LineEdit:
    """`TEXT`: the words of the line(s) from `start` to `end` are `text`. `MERGE`: the lines from
    `start` to `end` are one. `SPLIT`: the line from `start` to `end` is two, the second beginning
    with the word said at `split_at`. `by` and `at` say who made it and when."""

    kind: EditKind
    start: float
    end: float
    by: str
    at: str
    text: str | None = None
    split_at: float | None = None

    def __post_init__(self):
        try:
            object.__setattr__(self, "kind", EditKind(self.kind))
        except ValueError:
            raise EditRefused(f"An edit is one of {', '.join(k.value for k in EditKind)}, not {self.kind!r}.") from None
        if not 0 <= self.start < self.end:
            raise EditRefused("A line's start comes before its end, both from 0 s.")
        if self.kind == EditKind.TEXT:
            if not (self.text or "").strip():
                raise EditRefused("Type the line's words; to remove a line, give its words to no one instead.")
            if len(self.text) > MAX_TEXT:
                raise EditRefused(f"A line holds at most {MAX_TEXT} characters; split it first.")
        if self.kind == EditKind.SPLIT and (self.split_at is None or not self.start < self.split_at < self.end):
            raise EditRefused("A line is split at the time of one of its words after the first.")

    def to_dict(self) -> dict:
        data = {"kind": self.kind.value, "start": self.start, "end": self.end, "by": self.by, "at": self.at}
        if self.text is not None:
            data["text"] = self.text
        if self.split_at is not None:
            data["split_at"] = self.split_at
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LineEdit:
        return cls(kind=data["kind"], start=float(data["start"]), end=float(data["end"]), by=data["by"],
                   at=data["at"], text=data.get("text"),
                   split_at=None if data.get("split_at") is None else float(data["split_at"]))


def _normal(token: str) -> str:
    return re.sub(r"[^\w']", "", token.lower())


def _spread(tokens: Sequence[str], start: float, end: float) -> list[Word]:
    step = max(end - start, 0.0) / max(len(tokens), 1)
    return [Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), token) for i, token in enumerate(tokens)]


def retime(words: Sequence[Word], text: str, start: float, end: float) -> list[Word]:
    """The words of `text`, timed: a word that matches a recognised one takes its times; the others
    share out the time of the recognised words they replace, or the gap they fall in."""
    tokens = text.split()
    if not words:
        return _spread(tokens, start, end)
    matcher = difflib.SequenceMatcher(None, [_normal(w.word) for w in words], [_normal(t) for t in tokens],
                                      autojunk=False)
    timed: list[Word] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            timed += [dataclasses.replace(words[i], word=tokens[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
        elif op == "replace":
            timed += _spread(tokens[j1:j2], words[i1].start, words[i2 - 1].end)
        elif op == "insert":
            gap_start = timed[-1].end if timed else start
            gap_end = words[i1].start if i1 < len(words) else end
            timed += _spread(tokens[j1:j2], gap_start, max(gap_start, gap_end))
    return timed


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.word.strip() for w in words)


def _lines(transcript: Transcript, start: float, end: float) -> tuple[int, int] | None:
    """The first and last index of the run of lines that begins within TOLERANCE of `start` and ends
    within TOLERANCE of `end`, the closest such run; None when no run does."""
    segments = transcript.segments
    firsts = [i for i, s in enumerate(segments) if abs(s.start - start) <= TOLERANCE]
    lasts = [j for j, s in enumerate(segments) if abs(s.end - end) <= TOLERANCE]
    runs = [(i, j) for i in firsts for j in lasts if j >= i]
    if not runs:
        return None
    return min(runs, key=lambda r: (abs(segments[r[0]].start - start) + abs(segments[r[1]].end - end), r[1] - r[0]))


def _recognised(segment: Segment) -> str:
    return segment.edited.recognised if segment.edited else segment.text


def _retype(transcript: Transcript, first: int, last: int, edit: LineEdit) -> list[Segment]:
    """The lines first..last with their words retyped; over several lines (a line split by speaker
    since it was corrected), each word goes to the line it was said in."""
    lines = transcript.segments[first:last + 1]
    words = [w for s in lines for w in s.words]
    timed = retime(words, edit.text, lines[0].start, lines[-1].end)
    out = []
    for k, line in enumerate(lines):
        until = lines[k + 1].start if k + 1 < len(lines) else float("inf")
        mine = [w for w in timed if (w.start + w.end) / 2 < until]
        timed = timed[len(mine):]
        if not mine:
            continue
        out.append(dataclasses.replace(
            line, text=_text(mine), words=mine, inaudible=False,
            start=min(line.start, mine[0].start), end=max(line.end, mine[-1].end),
            edited=Edited(_recognised(line), edit.by, edit.at)))
    return out


def _merge(transcript: Transcript, first: int, last: int, edit: LineEdit) -> list[Segment]:
    lines = transcript.segments[first:last + 1]
    if len(lines) < 2:
        raise EditRefused("There is no next line to merge with.")
    if len({s.speaker for s in lines}) > 1:
        raise EditRefused("These lines have different speakers: give them to one speaker first.")
    if any(s.inaudible for s in lines):
        raise EditRefused("An inaudible line is merged once its words are typed in.")
    words = [w for s in lines for w in s.words]
    confidences = [s.speaker_confidence for s in lines if s.speaker_confidence is not None]
    # The parts of a line split by a person each keep the whole line's recognised text: said once.
    recognised = [r for k, r in enumerate(map(_recognised, lines)) if k == 0 or r != _recognised(lines[k - 1])]
    return [dataclasses.replace(
        lines[0], end=lines[-1].end, text=" ".join(s.text for s in lines), words=words,
        speaker_confidence=min(confidences) if confidences else None, joins_next=lines[-1].joins_next,
        edited=Edited(" ".join(recognised), edit.by, edit.at))]


def _split(transcript: Transcript, first: int, last: int, edit: LineEdit) -> list[Segment]:
    if first != last:
        raise EditRefused("A split is made in one line.")
    line = transcript.segments[first]
    if len(line.words) < 2:
        raise EditRefused("A line of one word cannot be split.")
    k = min(range(1, len(line.words)), key=lambda i: abs(line.words[i].start - edit.split_at))
    if abs(line.words[k].start - edit.split_at) > TOLERANCE:
        raise EditRefused("No word of the line begins there.")
    edited = Edited(_recognised(line), edit.by, edit.at)
    head, tail = line.words[:k], line.words[k:]
    return [dataclasses.replace(line, end=head[-1].end, text=_text(head), words=list(head), joins_next=False,
                                edited=edited),
            dataclasses.replace(line, start=tail[0].start, text=_text(tail), words=list(tail), edited=edited)]


_APPLY = {EditKind.TEXT: _retype, EditKind.MERGE: _merge, EditKind.SPLIT: _split}


def apply_edit(transcript: Transcript, edit: LineEdit) -> Transcript:
    """The transcript with the edit made; EditRefused when no line is where the edit says, or the
    edit cannot be made there."""
    found = _lines(transcript, edit.start, edit.end)
    if found is None:
        raise EditRefused(STALE)
    first, last = found
    changed = _APPLY[edit.kind](transcript, first, last, edit)
    return dataclasses.replace(transcript, segments=[*transcript.segments[:first], *changed,
                                                     *transcript.segments[last + 1:]])


def apply_edits(transcript: Transcript, edits: Iterable[LineEdit | dict]) -> tuple[Transcript, list[bool]]:
    """The edits made in order, as after a new transcription: one that no longer finds its line is
    left out. The transcript, and for each edit whether it was made."""
    return replay(transcript, list(edits))


def replay(transcript: Transcript, edits: Sequence[LineEdit | dict],
           speaker_corrections: Sequence[dict] = ()) -> tuple[Transcript, list[bool]]:
    """People's corrections made again on a new transcription, in the order they were made (by their
    `at`): the edits of the text, and the corrections of who spoke a stretch (`CorrectionKind.SPEAKER`,
    as stored; swaps of roles are made with the roles). In that order because each finds its lines where
    the one before left them: a line split by a person and then half given to the patient comes back
    split, not refused because a change of speaker split it first. The transcript, and for each edit
    whether it was made."""
    from transcription.roles.corrections import CorrectionKind, apply_corrections

    edits = [LineEdit.from_dict(e) if isinstance(e, dict) else e for e in edits]
    steps = [(edit.at, k, edit) for k, edit in enumerate(edits)]
    steps += [(c.get("at") or "", len(edits) + k, c) for k, c in enumerate(speaker_corrections)
              if c.get("kind") == CorrectionKind.SPEAKER.value]
    made = [False] * len(edits)
    for _, k, step in sorted(steps, key=lambda s: s[:2]):
        if isinstance(step, dict):
            transcript = apply_corrections(transcript, [step])
            continue
        try:
            transcript = apply_edit(transcript, step)
            made[k] = True
        except EditRefused:
            pass
    return transcript, made
