"""Quality gates a recording must pass before it reaches a supervisor.

Automated fidelity-rating pipelines check the audio before they score it: a recording that is too
short, mostly silent, or has one side of the conversation missing yields ratings that mean nothing.
A recording that fails a gate is flagged with the reason, in words a trainee or supervisor can act
on, and is not rated silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from transcription.formats import clock
from transcription.transcript import speaker_label

MIN_DURATION_S = 60.0
MAX_DURATION_S = 5 * 3600.0
MIN_SPEECH_FRACTION = 0.25
MIN_SPEAKER_SHARE = 0.10
EXPECTED_SPEAKERS = 2
# Below this separation (diarize.Diarisation.separation: the silhouette of the voice clusters)
# the "two speakers" may be one voice cut in two; see diarize.ClusterOptions.min_silhouette.
MIN_SEPARATION = 0.25

# Thresholds are met when equalled: floating point must not fail a recording of exactly 60 s.
_SLACK = 1e-9


@dataclass(frozen=True)
class GateResult:
    name: str  # "duration", "speech", "speakers" or "voices"
    passed: bool
    reason: str  # what was found, in plain words; for a failure, also why it matters

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GateResult:
        return cls(name=data["name"], passed=bool(data["passed"]), reason=data["reason"])


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def _name(speaker) -> str:
    """"the therapist", "the patient", or "speaker 2" for a diarised speaker number."""
    if isinstance(speaker, int):
        return speaker_label(speaker)
    return f"the {speaker}" if speaker in ("therapist", "patient") else str(speaker)


def duration_gate(duration: float) -> GateResult:
    if duration < MIN_DURATION_S - _SLACK:
        return GateResult("duration", False,
                          f"The recording is only {clock(duration)} long; a session recording needs at least "
                          f"{clock(MIN_DURATION_S)} for there to be anything to rate.")
    if duration > MAX_DURATION_S + _SLACK:
        return GateResult("duration", False,
                          f"The recording is {clock(duration)} long, more than the {MAX_DURATION_S / 3600:.0f} hours "
                          "a session recording can be; it may hold more than one session, or a recorder left running.")
    return GateResult("duration", True, f"The recording is {clock(duration)} long.")


def speech_gate(duration: float, speech_seconds: float) -> GateResult:
    fraction = speech_seconds / duration if duration > 0 else 0.0
    if fraction < MIN_SPEECH_FRACTION - _SLACK:
        return GateResult("speech", False,
                          f"Only {_percent(fraction)} of the recording is speech (at least "
                          f"{_percent(MIN_SPEECH_FRACTION)} is needed): it may be mostly silence, or the "
                          "microphone may have been too far from the speakers.")
    return GateResult("speech", True, f"{_percent(fraction)} of the recording is speech.")


def speakers_gate(talk_time_by_speaker: Mapping[object, float], expected_speakers: int = EXPECTED_SPEAKERS
                  ) -> GateResult:
    talking = {speaker: seconds for speaker, seconds in talk_time_by_speaker.items() if seconds > 0}
    total = sum(talking.values())
    if len(talking) < expected_speakers:
        heard = "No voice was heard" if not talking else "Only one voice was heard" if len(talking) == 1 \
            else f"Only {len(talking)} voices were heard"
        return GateResult("speakers", False,
                          f"{heard}, where a session has {expected_speakers} people talking: one side of the "
                          "conversation may not have been recorded.")
    shares = {speaker: seconds / total for speaker, seconds in talking.items()}
    quiet = [speaker for speaker, share in shares.items() if share < MIN_SPEAKER_SHARE - _SLACK]
    described = ", ".join(f"{_name(s)} {_percent(share)}" for s, share in shares.items())
    if quiet:
        who = " and ".join(f"{_name(s)} speaks for only {_percent(shares[s])}" for s in quiet)
        who = who[0].upper() + who[1:]
        return GateResult("speakers", False,
                          f"{who} of the talk time (each speaker needs at least {_percent(MIN_SPEAKER_SHARE)}): "
                          "one side of the conversation may be missing or too quiet to pick up.")
    return GateResult("speakers", True, f"Share of the talk time: {described}.")


def voices_gate(separation: float) -> GateResult:
    if separation < MIN_SEPARATION - _SLACK:
        return GateResult("voices", False,
                          "The two voices could not be told apart reliably, so who said what may be wrong: "
                          "check the speakers on the transcript page and correct them.")
    return GateResult("voices", True, "The two voices were told apart clearly.")


def quality_gates(duration: float, speech_seconds: float, talk_time_by_speaker: Mapping[object, float],
                  expected_speakers: int = EXPECTED_SPEAKERS, separation: float | None = None) -> list[GateResult]:
    """Every gate's result, passed or not. `talk_time_by_speaker` maps each speaker (a role name or
    a diarised speaker number) to the seconds they talk; a speaker who is expected but never heard
    may be left out. `separation` (from voice diarisation) adds the "voices" gate."""
    gates = [
        duration_gate(duration),
        speech_gate(duration, speech_seconds),
        speakers_gate(talk_time_by_speaker, expected_speakers),
    ]
    if separation is not None:
        gates.append(voices_gate(separation))
    return gates


def failures(gates: Sequence[GateResult]) -> list[GateResult]:
    return [gate for gate in gates if not gate.passed]


def flag(gates: Sequence[GateResult]) -> str | None:
    """What the queue and transcript page show for a recording that failed a gate; None if none failed."""
    failed = failures(gates)
    return " ".join(gate.reason for gate in failed) if failed else None
