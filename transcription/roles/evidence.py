"""What is known about who is who, each as evidence for one speaker being the therapist:

- the trainee's own voice: a voice print (mean speaker embedding) kept from their earlier
  recordings, compared with each speaker's voice; the strongest evidence when there is one;
- questions: a therapist asks far more of them (a sentence ending in "?", or opening the way a
  question does: "do you", "what did", "is that");
- talk time: the therapist usually talks less than the patient;
- who speaks first: the therapist usually opens the session (weak).

They are added as log-odds with fixed weights (priors chosen by hand, not fitted to sessions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from transcription.diarize import Turn, talk_time
from transcription.roles.voice_prints import voice_similarity
from transcription.transcript import Transcript, speaker_index


@dataclass(frozen=True)
class RoleWeights:
    """Log-odds weights. With two speakers, the odds that A rather than B is the therapist gain
    `questions` x the difference in their question rates (0 to 1), `talk` x the difference in their
    shares of talk time, `first` for speaking first, and `voice` x the difference in their voices'
    similarity to the trainee's voice print (cosine; the bundled encoder gives about 0.8 to 0.98 for
    one voice in two recordings and 0.5 to 0.8 for two people). A clear difference of voice (0.25)
    outweighs everything the words say: who someone is does not change with how a session goes."""

    questions: float = 6.0
    talk: float = 4.0
    first: float = 0.5
    voice: float = 40.0
    # With one voice only: it is the trainee's if it is at least this similar to their voice print.
    same_voice: float = 0.8


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

    def score(self, weights: RoleWeights = RoleWeights()) -> float:
        """Log-odds (up to a constant shared by all speakers) that this speaker is the therapist."""
        score = (weights.questions * self.question_rate - weights.talk * self.talk_share
                 + (weights.first if self.first else 0.0))
        if self.voice_similarity is not None:
            score += weights.voice * self.voice_similarity
        return score


def gather_evidence(transcript: Transcript, turns: Sequence[Turn], therapist_voiceprint: np.ndarray | None = None,
                    voiceprints: Mapping[int, np.ndarray | None] | None = None) -> list[SpeakerEvidence]:
    """Each diarised speaker's evidence; `transcript` has the speakers `assign_speakers` gives."""
    speakers = sorted({t.speaker for t in turns} | {s for seg in transcript.segments
                                                   if (s := speaker_index(seg.speaker)) is not None})
    seconds = talk_time(turns)
    total = sum(seconds.values())
    first = min(turns, key=lambda t: t.start).speaker if turns else None
    evidence = []
    for speaker in speakers:
        said = [s for seg in transcript.segments if speaker_index(seg.speaker) == speaker for s in sentences(seg.text)]
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
