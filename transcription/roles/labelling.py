"""The whole labelling of a recording in one call: diarise it, split the transcript at changes of
speaker, give the speakers roles, apply people's earlier corrections, check the quality gates."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transcription.blocks import BLOCK_S, WavFile
from transcription.diarize import (
    Diarisation,
    DiarisationOptions,
    SpeakerEncoder,
    assign_speakers,
    diarise_source,
    load_encoder,
)
from transcription.media import decode_channels
from transcription.quality import GateResult, flag, quality_gates
from transcription.roles.assignment import RoleAssignment, assign_roles
from transcription.roles.corrections import Correction, CorrectionKind, apply_corrections
from transcription.roles.evidence import RoleWeights
from transcription.roles.voice_prints import source_voiceprints
from transcription.transcript import Transcript, speaker_label


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


@dataclass(frozen=True)
class Voices:
    """Who spoke when in a recording, and each voice's print: all of the labelling that needs the audio
    and not the transcript, so that it can run while the recording is being transcribed."""

    diarisation: Diarisation
    voiceprints: dict[int, np.ndarray | None]


def find_voices(path, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                options: DiarisationOptions = DiarisationOptions(), block_s: float = BLOCK_S,
                scratch: Path | None = None) -> Voices:
    """Diarise the recording at `path` and take each speaker's voice print. The recording is decoded to a
    WAV in `scratch` (the system's temporary directory if None) and read from there `block_s` seconds at a
    time. Without an `encoder`, the bundled one is loaded for this call."""
    encoder = encoder or load_encoder()
    with tempfile.TemporaryDirectory(prefix="dit-speakers-", dir=scratch) as folder:
        decode_channels(path, Path(folder) / "channels.wav")
        with WavFile(Path(folder) / "channels.wav", block_s) as source:
            diarisation = diarise_source(source, n_speakers, encoder, options=options)
            prints = source_voiceprints(source, diarisation.turns, range(diarisation.speakers), encoder,
                                        windows=options.windows)
    return Voices(diarisation, prints)


def label_voices(transcript: Transcript, voices: Voices, therapist_voiceprint: np.ndarray | None = None,
                 corrections: Sequence[Correction | dict] = (), options: DiarisationOptions = DiarisationOptions(),
                 weights: RoleWeights = RoleWeights()) -> Labelling:
    """Split `transcript` at the changes of speaker `voices` found, give the speakers roles, apply a
    person's earlier corrections, and check the quality gates."""
    diarisation, prints = voices.diarisation, voices.voiceprints
    corrections = [Correction.from_dict(c) if isinstance(c, dict) else c for c in corrections]
    anchors = [c for c in corrections if c.kind == CorrectionKind.THERAPIST_AT]
    speakers = assign_speakers(transcript, diarisation.turns, options.align)
    labelled, roles = assign_roles(speakers, diarisation.turns, therapist_voiceprint, prints,
                                   therapist_at=anchors[-1].start if anchors else None, weights=weights)
    labelled = apply_corrections(labelled, [c for c in corrections if c.kind == CorrectionKind.SPEAKER])
    labelling = Labelling(labelled, diarisation, roles, [], prints)
    separation = diarisation.separation if diarisation.method == "voices" and diarisation.speakers > 1 else None
    labelling.gates = quality_gates(diarisation.duration or transcript.duration, diarisation.speech_seconds,
                                    labelling.talk_time_by_role(), separation=separation)
    return labelling


def label_speakers(path, transcript: Transcript, therapist_voiceprint: np.ndarray | None = None,
                   corrections: Sequence[Correction | dict] = (), n_speakers: int | None = 2,
                   encoder: SpeakerEncoder | None = None, options: DiarisationOptions = DiarisationOptions(),
                   weights: RoleWeights = RoleWeights(), block_s: float = BLOCK_S,
                   scratch: Path | None = None) -> Labelling:
    """Diarise the recording at `path`, split `transcript` at changes of speaker, give the speakers
    roles, apply a person's earlier corrections, and check the quality gates (`find_voices`, then
    `label_voices`)."""
    voices = find_voices(path, n_speakers, encoder, options, block_s, scratch)
    return label_voices(transcript, voices, therapist_voiceprint, corrections, options, weights)
