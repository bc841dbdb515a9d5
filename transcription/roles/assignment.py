"""Which voice is the therapist's: the evidence weighed into the probability that each speaker is
the therapist, and a diarised transcript's speakers turned into roles.

The confidence is that probability for the speaker chosen. A segment's `speaker_confidence` is
that times the diarisation's confidence in the segment's speaker.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from transcription.diarize import Turn
from transcription.roles.evidence import RoleWeights, SpeakerEvidence, gather_evidence
from transcription.transcript import Transcript, speaker_index, speaker_label

THERAPIST, PATIENT = "therapist", "patient"
ROLES = (THERAPIST, PATIENT)
# What a role assignment says when a person set it.
SET_BY_HAND = "Set by hand on the transcript page."


@dataclass
class RoleAssignment:
    """Who was taken for the therapist, how sure that is, and why."""

    therapist: int | None  # diarised speaker number; None where no one could be told to be
    confidence: float | None  # probability that the role assignment is right
    roles: dict[int, str | None]  # diarised speaker -> role
    evidence: list[SpeakerEvidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # plain words, for the transcript page
    corrected: bool = False  # a person said who the therapist is

    def to_dict(self) -> dict:
        return {
            "therapist": self.therapist,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "roles": {str(k): v for k, v in self.roles.items()},
            "evidence": [asdict(e) for e in self.evidence],
            "reasons": list(self.reasons),
            "corrected": self.corrected,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RoleAssignment:
        return cls(
            therapist=data["therapist"],
            confidence=data["confidence"],
            roles={int(k): v for k, v in data["roles"].items()},
            evidence=[SpeakerEvidence(**e) for e in data.get("evidence", [])],
            reasons=list(data.get("reasons", [])),
            corrected=bool(data.get("corrected", False)),
        )


def _reasons(evidence: Sequence[SpeakerEvidence], therapist: int) -> list[str]:
    chosen = next(e for e in evidence if e.speaker == therapist)
    others = [e for e in evidence if e.speaker != therapist]
    name = speaker_label(therapist).capitalize()
    reasons = []
    if chosen.voice_similarity is not None:
        other = max((e.voice_similarity for e in others if e.voice_similarity is not None), default=None)
        against = f" against {other:.2f}" if other is not None else ""
        if other is None or chosen.voice_similarity >= other:
            reasons.append(f"{name}'s voice is closer to the trainee's earlier recordings "
                           f"({chosen.voice_similarity:.2f}{against}).")
        else:
            reasons.append(f"{name}'s voice is less like the trainee's earlier recordings "
                           f"({chosen.voice_similarity:.2f}{against}), but the rest outweighs that.")
    questions = sum(e.questions for e in evidence)
    if questions:
        reasons.append(f"{name} asks {chosen.questions} of the {questions} questions.")
    reasons.append(f"{name} talks for {chosen.talk_share * 100:.0f}% of the talk time.")
    if chosen.first:
        reasons.append(f"{name} speaks first.")
    return reasons


def decide_roles(evidence: Sequence[SpeakerEvidence], therapist_at: int | None = None,
                 weights: RoleWeights = RoleWeights()) -> RoleAssignment:
    """The therapist is the speaker with the best score; everyone else is a patient.
    `therapist_at`: a speaker a person has said is the therapist."""
    if not evidence:
        return RoleAssignment(None, None, {})
    if therapist_at is not None and any(e.speaker == therapist_at for e in evidence):
        roles = {e.speaker: THERAPIST if e.speaker == therapist_at else PATIENT for e in evidence}
        return RoleAssignment(therapist_at, 1.0, roles, list(evidence), [SET_BY_HAND], True)
    if len(evidence) == 1:
        only = evidence[0]
        if only.voice_similarity is None:
            return RoleAssignment(None, None, {only.speaker: None}, list(evidence),
                                  [("Only one voice was heard, and there is no earlier recording of the trainee "
                                    "to compare it with.")])
        p = 1 / (1 + math.exp(-weights.voice * (only.voice_similarity - weights.same_voice)))
        if p >= 0.5:
            return RoleAssignment(only.speaker, p, {only.speaker: THERAPIST}, list(evidence),
                                  [(f"Only one voice was heard; it matches the trainee's earlier recordings "
                                    f"({only.voice_similarity:.2f}).")])
        return RoleAssignment(None, 1 - p, {only.speaker: PATIENT}, list(evidence),
                              [f"Only one voice was heard, and it is not the trainee's ({only.voice_similarity:.2f})."])
    scores = np.array([e.score(weights) for e in evidence])
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    best = int(np.argmax(probabilities))
    therapist = evidence[best].speaker
    roles = {e.speaker: THERAPIST if e.speaker == therapist else PATIENT for e in evidence}
    return RoleAssignment(therapist, float(probabilities[best]), roles, list(evidence), _reasons(evidence, therapist))


def speaker_at_time(transcript: Transcript, time: float) -> str | None:
    """The speaker of the segment at `time` (the nearest segment in a pause)."""
    if not transcript.segments:
        return None
    return min(transcript.segments, key=lambda s: max(s.start - time, time - s.end, 0.0)).speaker


def assign_roles(transcript: Transcript, turns: Sequence[Turn], therapist_voiceprint: np.ndarray | None = None,
                 voiceprints: Mapping[int, np.ndarray | None] | None = None, therapist_at: float | None = None,
                 weights: RoleWeights = RoleWeights()) -> tuple[Transcript, RoleAssignment]:
    """Roles for a transcript whose segments carry diarised speakers (from `assign_speakers`):
    each segment's speaker becomes "therapist", "patient" or None, and its `speaker_confidence` the
    role's confidence times the diarisation's. `voiceprints`: each diarised speaker's voice print,
    compared with `therapist_voiceprint`. `therapist_at`: a time at which a person said the
    therapist is speaking."""
    evidence = gather_evidence(transcript, turns, therapist_voiceprint, voiceprints)
    anchored = speaker_index(speaker_at_time(transcript, therapist_at)) if therapist_at is not None else None
    decision = decide_roles(evidence, anchored, weights)
    segments = []
    for segment in transcript.segments:
        speaker = speaker_index(segment.speaker)
        role = decision.roles.get(speaker) if speaker is not None else None
        confidence = segment.speaker_confidence
        if role is None or decision.confidence is None:
            confidence = None
        elif confidence is not None:
            confidence = round(confidence * decision.confidence, 3)
        segments.append(dataclasses.replace(segment, words=list(segment.words), speaker=role,
                                            speaker_confidence=confidence))
    return dataclasses.replace(transcript, segments=segments), decision
