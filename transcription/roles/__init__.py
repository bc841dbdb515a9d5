"""Which voice is the therapist's: roles for a diarised transcript, corrections that outlast
re-transcription, and the whole labelling of a recording in one call.

- `evidence`: what tells the therapist from the patient (the trainee's voice print, questions,
  talk time, who speaks first), weighed as log-odds;
- `voice_prints`: a speaker's voice as one embedding, kept to recognise the trainee later;
- `assignment`: the evidence turned into roles with a confidence and the reasons;
- `corrections`: a person's corrections, kept by time;
- `labelling`: `label_speakers`, all of it for one recording, with the quality gates (`find_voices`, the
  part that needs the audio alone, and `label_voices`, the rest).
"""

from transcription.roles.assignment import (
    PATIENT,
    ROLES,
    THERAPIST,
    RoleAssignment,
    assign_roles,
    decide_roles,
)
from transcription.roles.corrections import (
    Correction,
    CorrectionKind,
    apply_corrections,
    set_speaker,
    swap_assignment,
    swap_roles,
)
from transcription.roles.evidence import RoleWeights, SpeakerEvidence, gather_evidence, is_question, sentences
from transcription.roles.labelling import Labelling, Voices, find_voices, label_speakers, label_voices
from transcription.roles.voice_prints import combine_voiceprints, voice_similarity, voiceprint, voiceprints

__all__ = [
    "PATIENT",
    "ROLES",
    "THERAPIST",
    "Correction",
    "CorrectionKind",
    "Labelling",
    "Voices",
    "RoleAssignment",
    "RoleWeights",
    "SpeakerEvidence",
    "apply_corrections",
    "assign_roles",
    "combine_voiceprints",
    "decide_roles",
    "gather_evidence",
    "is_question",
    "find_voices",
    "label_speakers",
    "label_voices",
    "sentences",
    "set_speaker",
    "swap_assignment",
    "swap_roles",
    "voice_similarity",
    "voiceprint",
    "voiceprints",
]
