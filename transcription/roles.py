"""Which voice is the therapist's: roles for a diarised transcript, corrections that outlast
re-transcription, and the whole labelling of a recording in one call.

What is known about who is who, each as evidence for one speaker being the therapist:

- the trainee's own voice: a voice print (mean speaker embedding) kept from their earlier
  recordings, compared with each speaker's voice; the strongest evidence when there is one;
- questions: a therapist asks far more of them (a sentence ending in "?", or opening the way a
  question does: "do you", "what did", "is that");
- talk time: the therapist usually talks less than the patient;
- who speaks first: the therapist usually opens the session (weak).

They are added as log-odds with fixed weights (priors chosen by hand, not fitted to sessions) and
turned into the probability that each speaker is the therapist; the confidence is that
probability for the speaker chosen. A segment's `speaker_confidence` is that times the
diarisation's confidence in the segment's speaker.

Corrections are kept as times, not as segment numbers, so that they still apply after the
recording is transcribed again: "the voice speaking at 12.3 s is the therapist's" (a swap), and
"from 40.2 s to 44.0 s the speaker is the patient" (a split or a merge of a segment's speaker).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from transcription.diarize import (
    SAMPLE_RATE,
    WINDOW_S,
    Diarisation,
    SpeakerEncoder,
    Turn,
    assign_speakers,
    diarise,
    join_words,
    load_channels,
    load_encoder,
    make_segment,
    speaker_index,
    speaker_label,
    talk_time,
)
from transcription.quality import GateResult, flag, quality_gates
from transcription.transcript import Segment, Transcript

THERAPIST, PATIENT = "therapist", "patient"
ROLES = (THERAPIST, PATIENT)
# The prefixes the plain-text exports use.
ROLE_PREFIXES = {THERAPIST: "T", PATIENT: "P"}

# Log-odds weights. With two speakers, the odds that A rather than B is the therapist gain
# W_QUESTIONS x the difference in their question rates (0 to 1), W_TALK x the difference in
# their shares of talk time, W_FIRST for speaking first, and W_VOICE x the difference in their
# voices' similarity to the trainee's voice print (cosine; the bundled encoder gives about 0.8 to
# 0.98 for one voice in two recordings and 0.5 to 0.8 for two people). A clear difference of
# voice (0.25) outweighs everything the words say: who someone is does not change with how a
# session goes.
W_QUESTIONS = 6.0
W_TALK = 4.0
W_FIRST = 0.5
W_VOICE = 40.0
# With one voice only: it is the trainee's if it is at least this similar to their voice print.
SAME_VOICE = 0.8

# How many windows a voice print is taken from (evenly spread over the speaker's turns).
VOICEPRINT_WINDOWS = 60

_WH = {"what", "how", "why", "when", "where", "who", "whom", "whose", "which"}
_AUXILIARIES = {"do", "does", "did", "are", "is", "was", "were", "can", "could", "would", "will", "have", "has",
                "had", "should", "shall", "may", "might", "am", "isn't", "aren't", "don't", "doesn't", "didn't",
                "won't", "wouldn't", "couldn't", "can't"}
_SUBJECTS = {"you", "i", "we", "he", "she", "they", "it", "that", "this", "there", "your", "my", "anyone", "anything"}
_INVITATIONS = ("tell me", "say more", "can you say", "i wonder")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^.?!]+[.?!]*", text) if s.strip(" .?!")]


def is_question(sentence: str) -> bool:
    """A sentence ending in "?", or opening as a question does ("do you", "what did", "is that",
    "tell me"): Whisper does not always punctuate a question as one."""
    sentence = sentence.strip()
    if sentence.endswith("?"):
        return True
    words = re.findall(r"[a-z']+", sentence.lower())
    if len(words) < 2:
        return False
    first, second = words[0], words[1]
    if first in _AUXILIARIES and second in _SUBJECTS:
        return True
    if first in _WH and second in _AUXILIARIES:
        return True
    return sentence.lower().startswith(_INVITATIONS)


@dataclass
class SpeakerEvidence:
    speaker: int
    talk_seconds: float
    talk_share: float
    sentences: int
    questions: int
    first: bool
    voice_similarity: float | None = None

    @property
    def question_rate(self) -> float:
        return self.questions / self.sentences if self.sentences else 0.0

    def score(self) -> float:
        """Log-odds (up to a constant shared by all speakers) that this speaker is the therapist."""
        score = W_QUESTIONS * self.question_rate - W_TALK * self.talk_share + (W_FIRST if self.first else 0.0)
        if self.voice_similarity is not None:
            score += W_VOICE * self.voice_similarity
        return score


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


# --- Voice prints -----------------------------------------------------------------------------------


def _normed(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _print_spans(turns: Sequence[Turn], speaker: int, max_windows: int) -> list[tuple[float, float]]:
    spans = []
    for turn in turns:
        if turn.speaker != speaker:
            continue
        start = turn.start
        while turn.end - start >= WINDOW_S:
            spans.append((start, start + WINDOW_S))
            start += WINDOW_S
    if not spans:
        # Short turns only: embed the longest of them whole.
        mine = [t for t in turns if t.speaker == speaker and t.duration >= 0.4]
        spans = [(t.start, t.end) for t in sorted(mine, key=lambda t: -t.duration)[:max_windows]]
    if len(spans) > max_windows:
        chosen = np.linspace(0, len(spans) - 1, max_windows).round().astype(int)
        spans = [spans[i] for i in chosen]
    return spans


def voiceprints(audio: np.ndarray, turns: Sequence[Turn], speakers: Iterable[int], encoder: SpeakerEncoder | None = None,
                max_windows: int = VOICEPRINT_WINDOWS) -> dict[int, np.ndarray | None]:
    """Each speaker's voice print: the L2-normed mean embedding of up to `max_windows` windows of
    their turns in 16 kHz mono `audio`; None for a speaker with no turn long enough to embed."""
    spans = {speaker: _print_spans(turns, speaker, max_windows) for speaker in speakers}
    every = [span for speaker_spans in spans.values() for span in speaker_spans]
    if not every:
        return {speaker: None for speaker in spans}
    encoder = encoder or load_encoder()
    embeddings = encoder.embed(audio, [(int(s * SAMPLE_RATE), int(e * SAMPLE_RATE)) for s, e in every])
    prints, at = {}, 0
    for speaker, speaker_spans in spans.items():
        mine = embeddings[at : at + len(speaker_spans)]
        at += len(speaker_spans)
        prints[speaker] = _normed(mine.mean(axis=0)) if len(mine) else None
    return prints


def voiceprint(audio: np.ndarray, turns: Sequence[Turn], speaker: int, encoder: SpeakerEncoder | None = None,
               max_windows: int = VOICEPRINT_WINDOWS) -> np.ndarray | None:
    """One speaker's voice print (see `voiceprints`): what the server keeps of the trainee's voice."""
    return voiceprints(audio, turns, [speaker], encoder, max_windows)[speaker]


def combine_voiceprints(prints: Iterable[np.ndarray], weights: Iterable[float] | None = None) -> np.ndarray | None:
    """One print from several (a trainee's earlier recordings), weighted by e.g. their talk time."""
    prints = [np.asarray(p, dtype=np.float32) for p in prints if p is not None]
    if not prints:
        return None
    weights = np.ones(len(prints)) if weights is None else np.asarray(list(weights), dtype=np.float64)
    return _normed(np.average(np.stack(prints), axis=0, weights=weights))


def voice_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(_normed(a), _normed(b)))


# --- Roles ------------------------------------------------------------------------------------------


def _segment_speaker(segment: Segment) -> int | None:
    return speaker_index(segment.speaker)


def gather_evidence(transcript: Transcript, turns: Sequence[Turn], therapist_voiceprint: np.ndarray | None = None,
                    voiceprints: Mapping[int, np.ndarray | None] | None = None) -> list[SpeakerEvidence]:
    """Each diarised speaker's evidence; `transcript` has the speakers `assign_speakers` gives."""
    speakers = sorted({t.speaker for t in turns} | {s for seg in transcript.segments
                                                   if (s := _segment_speaker(seg)) is not None})
    seconds = talk_time(turns)
    total = sum(seconds.values())
    first = min(turns, key=lambda t: t.start).speaker if turns else None
    evidence = []
    for speaker in speakers:
        said = [s for seg in transcript.segments if _segment_speaker(seg) == speaker for s in sentences(seg.text)]
        similarity = None
        if therapist_voiceprint is not None and voiceprints and voiceprints.get(speaker) is not None:
            similarity = round(voice_similarity(therapist_voiceprint, voiceprints[speaker]), 4)
        talk = seconds.get(speaker, 0.0)
        evidence.append(SpeakerEvidence(
            speaker=speaker, talk_seconds=round(talk, 3), talk_share=round(talk / total, 4) if total else 0.0,
            sentences=len(said), questions=sum(is_question(s) for s in said), first=speaker == first,
            voice_similarity=similarity,
        ))
    return evidence


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


def decide_roles(evidence: Sequence[SpeakerEvidence], therapist_at: int | None = None) -> RoleAssignment:
    """The therapist is the speaker with the best score; everyone else is a patient.
    `therapist_at`: a speaker a person has said is the therapist."""
    if not evidence:
        return RoleAssignment(None, None, {})
    if therapist_at is not None and any(e.speaker == therapist_at for e in evidence):
        roles = {e.speaker: THERAPIST if e.speaker == therapist_at else PATIENT for e in evidence}
        return RoleAssignment(therapist_at, 1.0, roles, list(evidence), ["Set by hand on the transcript page."], True)
    if len(evidence) == 1:
        only = evidence[0]
        if only.voice_similarity is None:
            return RoleAssignment(None, None, {only.speaker: None}, list(evidence),
                                  [("Only one voice was heard, and there is no earlier recording of the trainee "
                                    "to compare it with.")])
        p = 1 / (1 + math.exp(-W_VOICE * (only.voice_similarity - SAME_VOICE)))
        if p >= 0.5:
            return RoleAssignment(only.speaker, p, {only.speaker: THERAPIST}, list(evidence),
                                  [(f"Only one voice was heard; it matches the trainee's earlier recordings "
                                    f"({only.voice_similarity:.2f}).")])
        return RoleAssignment(None, 1 - p, {only.speaker: PATIENT}, list(evidence),
                              [f"Only one voice was heard, and it is not the trainee's ({only.voice_similarity:.2f})."])
    scores = np.array([e.score() for e in evidence])
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    best = int(np.argmax(probabilities))
    therapist = evidence[best].speaker
    roles = {e.speaker: THERAPIST if e.speaker == therapist else PATIENT for e in evidence}
    return RoleAssignment(therapist, float(probabilities[best]), roles, list(evidence), _reasons(evidence, therapist))


def _speaker_at_time(transcript: Transcript, time: float) -> str | None:
    """The speaker label of the segment at `time` (the nearest segment in a pause)."""
    if not transcript.segments:
        return None
    return min(transcript.segments, key=lambda s: max(s.start - time, time - s.end, 0.0)).speaker


def assign_roles(transcript: Transcript, turns: Sequence[Turn], therapist_voiceprint: np.ndarray | None = None,
                 voiceprints: Mapping[int, np.ndarray | None] | None = None, therapist_at: float | None = None
                 ) -> tuple[Transcript, RoleAssignment]:
    """Roles for a transcript whose segments carry diarised speakers (from `assign_speakers`):
    each segment's speaker becomes "therapist", "patient" or None, and its `speaker_confidence` the
    role's confidence times the diarisation's. `voiceprints`: each diarised speaker's voice print,
    compared with `therapist_voiceprint`. `therapist_at`: a time at which a person said the
    therapist is speaking."""
    evidence = gather_evidence(transcript, turns, therapist_voiceprint, voiceprints)
    anchored = speaker_index(_speaker_at_time(transcript, therapist_at)) if therapist_at is not None else None
    decision = decide_roles(evidence, anchored)
    segments = []
    for segment in transcript.segments:
        speaker = _segment_speaker(segment)
        role = decision.roles.get(speaker) if speaker is not None else None
        confidence = getattr(segment, "speaker_confidence", None)
        if role is None or decision.confidence is None:
            confidence = None
        elif confidence is not None:
            confidence = round(confidence * decision.confidence, 3)
        segments.append(make_segment(segment.start, segment.end, segment.text, list(segment.words), role, confidence))
    return _with_segments(transcript, segments), decision


def _with_segments(transcript: Transcript, segments: list[Segment]) -> Transcript:
    return Transcript(language=transcript.language, engine=transcript.engine, model=transcript.model,
                      duration=transcript.duration, segments=segments)


# --- Corrections ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """A person's correction of speakers, kept by time so that it outlasts re-transcription.

    kind "therapist_at": the voice speaking at `start` is the therapist's (and so the other is the
    patient's): what "swap roles" records. kind "speaker": words said between `start` and `end`
    are `speaker`'s ("therapist", "patient" or None): what a split or merge records.
    """

    kind: str
    start: float
    end: float | None = None
    speaker: str | None = None

    def __post_init__(self):
        if self.kind not in ("therapist_at", "speaker"):
            raise ValueError(f"Unknown correction {self.kind!r}.")
        if self.kind == "speaker":
            if self.end is None or self.end <= self.start:
                raise ValueError("A speaker correction needs an end after its start.")
            if self.speaker not in (*ROLES, None):
                raise ValueError(f"A speaker is {' or '.join(ROLES)}, not {self.speaker!r}.")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "speaker" and self.kind == "speaker"}

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
    return Correction("therapist_at", round((longest.start + longest.end) / 2, 3))


def swap_assignment(roles: RoleAssignment) -> RoleAssignment:
    """The role assignment once a person has swapped therapist and patient (see `swap_roles`)."""
    if roles.therapist is None and len(roles.roles) == 1:
        swapped = {speaker: THERAPIST for speaker in roles.roles}
    else:
        swapped = {speaker: _swapped(role) for speaker, role in roles.roles.items()}
    therapist = next((speaker for speaker, role in swapped.items() if role == THERAPIST), None)
    return RoleAssignment(therapist, 1.0, swapped, roles.evidence, ["Set by hand on the transcript page."], True)


def set_speaker(start: float, end: float, speaker: str | None) -> Correction:
    """The correction that gives the words between `start` and `end` to `speaker`: split a segment
    from a word on (start at that word, end at the segment's end), or merge it under one speaker."""
    return Correction("speaker", round(start, 3), round(end, 3), speaker)


def _swapped(role: str | None) -> str | None:
    return {THERAPIST: PATIENT, PATIENT: THERAPIST}.get(role, role)


def _apply_range(transcript: Transcript, correction: Correction) -> Transcript:
    segments = []
    for segment in transcript.segments:
        inside = [correction.start <= (w.start + w.end) / 2 < correction.end for w in segment.words]
        if not segment.words:
            if correction.start <= (segment.start + segment.end) / 2 < correction.end:
                segments.append(make_segment(segment.start, segment.end, segment.text, [], correction.speaker, 1.0))
            else:
                segments.append(segment)
            continue
        if not any(inside):
            segments.append(segment)
            continue
        if all(inside):
            segments.append(make_segment(segment.start, segment.end, segment.text, list(segment.words),
                                         correction.speaker, 1.0))
            continue
        confidence = getattr(segment, "speaker_confidence", None)
        pieces: list[tuple[bool, list]] = []
        for word, corrected in zip(segment.words, inside, strict=True):
            if pieces and pieces[-1][0] == corrected:
                pieces[-1][1].append(word)
            else:
                pieces.append((corrected, [word]))
        for corrected, words in pieces:
            speaker, conf = (correction.speaker, 1.0) if corrected else (segment.speaker, confidence)
            segments.append(make_segment(words[0].start, words[-1].end, join_words(words), words, speaker, conf))
    return _with_segments(transcript, segments)


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
        if correction.kind == "speaker":
            transcript = _apply_range(transcript, correction)
            continue
        speaker = _speaker_at_time(transcript, correction.start)
        swap = speaker == PATIENT
        settle = roles is not None and roles.confidence and not roles.corrected
        segments = []
        for segment in transcript.segments:
            role, confidence = segment.speaker, getattr(segment, "speaker_confidence", None)
            if speaker is None and role is None:
                role, confidence = THERAPIST, 1.0  # one voice, and a person says it is the therapist's
            elif swap:
                role = _swapped(role)
            if settle and confidence is not None and confidence < 1.0 and role is not None:
                confidence = round(min(1.0, confidence / roles.confidence), 3)
            segments.append(make_segment(segment.start, segment.end, segment.text, list(segment.words), role,
                                         confidence))
        transcript = _with_segments(transcript, segments)
        if roles is not None:
            roles = RoleAssignment(roles.therapist, 1.0, roles.roles, roles.evidence, roles.reasons, True)
    return transcript


# --- A whole recording ------------------------------------------------------------------------------


@dataclass
class Labelling:
    transcript: Transcript
    diarisation: Diarisation
    roles: RoleAssignment
    gates: list[GateResult]
    voiceprints: dict[int, np.ndarray | None]

    @property
    def therapist_voiceprint(self) -> np.ndarray | None:
        """This recording's print of the therapist's voice, to add to the trainee's."""
        return None if self.roles.therapist is None else self.voiceprints.get(self.roles.therapist)

    def to_dict(self) -> dict:
        """What is kept with the transcript: the roles and why, the gates and the flag they raise,
        and each voice's print (so that the trainee's voice print can be rebuilt from their
        recordings as people correct the roles)."""
        return {
            "method": self.diarisation.method,
            "roles": self.roles.to_dict(),
            "gates": [gate.to_dict() for gate in self.gates],
            "flag": flag(self.gates),
            "voiceprints": {str(speaker): None if vector is None else [round(float(x), 5) for x in vector]
                            for speaker, vector in self.voiceprints.items()},
        }

    def talk_time_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for speaker, seconds in self.diarisation.talk_time().items():
            role = self.roles.roles.get(speaker) or speaker_label(speaker)
            totals[role] = totals.get(role, 0.0) + seconds
        return totals


def label_speakers(path, transcript: Transcript, therapist_voiceprint: np.ndarray | None = None,
                   corrections: Sequence[Correction | dict] = (), n_speakers: int | None = 2,
                   encoder: SpeakerEncoder | None = None) -> Labelling:
    """Diarise the recording at `path`, split `transcript` at changes of speaker, give the speakers
    roles, apply a person's earlier corrections, and check the quality gates."""
    channels = load_channels(path)
    diarisation = diarise(channels, n_speakers, encoder)
    mono = channels.mean(axis=0) if channels.shape[0] > 1 else channels[0]
    encoder = encoder or load_encoder()
    prints = voiceprints(mono, diarisation.turns, range(diarisation.speakers), encoder)
    corrections = [Correction.from_dict(c) if isinstance(c, dict) else c for c in corrections]
    anchors = [c for c in corrections if c.kind == "therapist_at"]
    speakers = assign_speakers(transcript, diarisation.turns)
    labelled, roles = assign_roles(speakers, diarisation.turns, therapist_voiceprint, prints,
                                   therapist_at=anchors[-1].start if anchors else None)
    labelled = apply_corrections(labelled, [c for c in corrections if c.kind == "speaker"])
    labelling = Labelling(labelled, diarisation, roles, [], prints)
    separation = diarisation.separation if diarisation.method == "voices" and diarisation.speakers > 1 else None
    labelling.gates = quality_gates(diarisation.duration or transcript.duration, diarisation.speech_seconds,
                                    labelling.talk_time_by_role(), separation=separation)
    return labelling
