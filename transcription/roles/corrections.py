"""People's corrections of who is speaking, kept as times rather than segment numbers so that they
still apply after the recording is transcribed again: "the voice speaking at 12.3 s is the
therapist's" (a swap), and "from 40.2 s to 44.0 s the speaker is the patient" (a split or a merge
of a segment's speaker)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum

from transcription.diarize import join_words
from transcription.roles.assignment import PATIENT, ROLES, SET_BY_HAND, THERAPIST, RoleAssignment, speaker_at_time
from transcription.transcript import Transcript


class CorrectionKind(str, Enum):
    THERAPIST_AT = "therapist_at"
    SPEAKER = "speaker"


@dataclass(frozen=True)
class Correction:
    """A person's correction of speakers, kept by time so that it outlasts re-transcription.

    `THERAPIST_AT`: the voice speaking at `start` is the therapist's (and so the other is the
    patient's): what "swap roles" records. `SPEAKER`: words said between `start` and `end`
    are `speaker`'s ("therapist", "patient" or None): what a split or merge records.
    """

    kind: CorrectionKind
    start: float
    end: float | None = None
    speaker: str | None = None

    def __post_init__(self):
        try:
            # Stored corrections come back from JSON as plain strings.
            object.__setattr__(self, "kind", CorrectionKind(self.kind))
        except ValueError:
            raise ValueError(f"Unknown correction {self.kind!r}.") from None
        if self.kind == CorrectionKind.SPEAKER:
            if self.end is None or self.end <= self.start:
                raise ValueError("A speaker correction needs an end after its start.")
            if self.speaker not in (*ROLES, None):
                raise ValueError(f"A speaker is {' or '.join(ROLES)}, not {self.speaker!r}.")

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if v is not None or k == "speaker" and self.kind == CorrectionKind.SPEAKER}
        return {**data, "kind": self.kind.value}

    @classmethod
    def from_dict(cls, data: dict) -> Correction:
        return cls(kind=data["kind"], start=float(data["start"]),
                   end=None if data.get("end") is None else float(data["end"]), speaker=data.get("speaker"))


def swap_roles(transcript: Transcript) -> Correction:
    """The correction that makes the present patient the therapist: anchored in the middle of the
    patient's longest segment, where a new diarisation is surest to find the same voice. With one
    voice and no role, that voice becomes the therapist's."""
    if not transcript.segments:
        raise ValueError("The transcript has no segments.")
    patient = ([s for s in transcript.segments if s.speaker == PATIENT]
               or [s for s in transcript.segments if s.speaker is None])
    if not patient:
        raise ValueError("Every line is the therapist's, so there is no patient to swap with: "
                         "give lines to the patient one by one instead.")
    longest = max(patient, key=lambda s: s.end - s.start)
    return Correction(CorrectionKind.THERAPIST_AT, round((longest.start + longest.end) / 2, 3))


def swap_assignment(roles: RoleAssignment) -> RoleAssignment:
    """The role assignment once a person has swapped therapist and patient (see `swap_roles`)."""
    if roles.therapist is None and len(roles.roles) == 1:
        swapped = {speaker: THERAPIST for speaker in roles.roles}
    else:
        swapped = {speaker: _swapped(role) for speaker, role in roles.roles.items()}
    therapist = next((speaker for speaker, role in swapped.items() if role == THERAPIST), None)
    return RoleAssignment(therapist, 1.0, swapped, roles.evidence, [SET_BY_HAND], True)


def set_speaker(start: float, end: float, speaker: str | None) -> Correction:
    """The correction that gives the words between `start` and `end` to `speaker`: split a segment
    from a word on (start at that word, end at the segment's end), or merge it under one speaker."""
    return Correction(CorrectionKind.SPEAKER, round(start, 3), round(end, 3), speaker)


def _swapped(role: str | None) -> str | None:
    return {THERAPIST: PATIENT, PATIENT: THERAPIST}.get(role, role)


def _apply_range(transcript: Transcript, correction: Correction) -> Transcript:
    segments = []
    for segment in transcript.segments:
        inside = [correction.start <= (w.start + w.end) / 2 < correction.end for w in segment.words]
        if not segment.words:
            inside = [correction.start <= (segment.start + segment.end) / 2 < correction.end]
        if not any(inside):
            segments.append(segment)
            continue
        if all(inside):
            segments.append(dataclasses.replace(segment, words=list(segment.words), speaker=correction.speaker,
                                                speaker_confidence=1.0))
            continue
        pieces: list[tuple[bool, list]] = []
        for word, corrected in zip(segment.words, inside, strict=True):
            if pieces and pieces[-1][0] == corrected:
                pieces[-1][1].append(word)
            else:
                pieces.append((corrected, [word]))
        for n, (corrected, words) in enumerate(pieces):
            speaker, confidence = ((correction.speaker, 1.0) if corrected
                                   else (segment.speaker, segment.speaker_confidence))
            segments.append(dataclasses.replace(
                segment, start=words[0].start, end=words[-1].end, text=join_words(words), words=words,
                speaker=speaker, speaker_confidence=confidence,
                joins_next=segment.joins_next if n == len(pieces) - 1 else True))
    return dataclasses.replace(transcript, segments=_rejoined(segments))


def _rejoined(segments: list) -> list:
    """Lines that a change of speaker split, joined again where they have one speaker again: giving a
    split-off line back to its neighbours' speaker undoes the split."""
    out = []
    for segment in segments:
        last = out[-1] if out else None
        if last is not None and last.joins_next and last.speaker == segment.speaker:
            confidences = [c for c in (last.speaker_confidence, segment.speaker_confidence) if c is not None]
            out[-1] = dataclasses.replace(
                last, end=segment.end, text=join_words([*last.words, *segment.words]) if last.words else last.text,
                words=[*last.words, *segment.words], speaker_confidence=min(confidences) if confidences else None,
                joins_next=segment.joins_next, edited=last.edited or segment.edited)
        else:
            out.append(segment)
    return out


def apply_corrections(transcript: Transcript, corrections: Iterable[Correction | dict],
                      roles: RoleAssignment | None = None) -> Transcript:
    """The transcript with a person's corrections applied, in the order they were made.

    A swap ("therapist_at") turns every therapist into a patient and back when the voice at its
    time is the patient's; given the `roles` that were assigned, the role's share of each segment's
    confidence is taken out, a person having settled it. Words given a speaker by hand have
    confidence 1.
    """
    for correction in corrections:
        if isinstance(correction, dict):
            correction = Correction.from_dict(correction)
        if correction.kind == CorrectionKind.SPEAKER:
            transcript = _apply_range(transcript, correction)
            continue
        speaker = speaker_at_time(transcript, correction.start)
        swap = speaker == PATIENT
        settle = roles is not None and roles.confidence and not roles.corrected
        segments = []
        for segment in transcript.segments:
            role, confidence = segment.speaker, segment.speaker_confidence
            if speaker is None and role is None:
                role, confidence = THERAPIST, 1.0  # one voice, and a person says it is the therapist's
            elif swap:
                role = _swapped(role)
            if settle and confidence is not None and confidence < 1.0 and role is not None:
                confidence = round(min(1.0, confidence / roles.confidence), 3)
            segments.append(dataclasses.replace(segment, words=list(segment.words), speaker=role,
                                                speaker_confidence=confidence))
        transcript = dataclasses.replace(transcript, segments=segments)
        if roles is not None:
            roles = dataclasses.replace(roles, confidence=1.0, corrected=True)
    return transcript
