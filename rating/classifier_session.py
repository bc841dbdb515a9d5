"""The session verdict: on-model, drifting or off-model, from the therapist turns' scores, by phase.

The rules follow the competence scale's items for each phase (rating/data/dit-competence-scale.v1.yaml):
in the initial phase the IPAF is still being formed, so a few tentative references are enough; in the
middle phase it should be the spine of the session and the transference taken up in relation to it
(`ipaf-focus`, `transference`); in the ending phase the goodbye letter and the ending should be worked
with (`goodbye-letter`, `ending-feelings`). Techniques from other models (CBT homework, thought records)
are reported as off-model markers wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rating.phases import Phase

ON_MODEL, DRIFTING, OFF_MODEL = "on-model", "drifting", "off-model"
# Worst to best: the order the supervisors' comparison tables keep.
VERDICTS = (OFF_MODEL, DRIFTING, ON_MODEL)
# The competence scale's items each phase's verdict follows (see above): the supervisors' scores on them
# are the verdict's official counterpart (`official_verdict`).
VERDICT_ITEMS: dict[Phase, tuple[str, ...]] = {
    Phase.INITIAL: ("ipaf-formulation", "ipaf-agreement"),
    Phase.MIDDLE: ("ipaf-focus", "transference"),
    Phase.ENDING: ("goodbye-letter", "ending-feelings"),
}
# The scale's first competent point ("Competent, with some problems"), and its highest point that is
# not yet emerging ("Inappropriate").
COMPETENT_SCORE = 3
INAPPROPRIATE_SCORE = 1

# The probabilities are calibrated, so a turn is evidence when the model thinks it more likely than not.
EVIDENCE_THRESHOLD = 0.5
# Enough evidence for a supervisor to check the verdict without listing every turn of a long session.
EVIDENCE_PER_LABEL = 10
# Middle phase: the IPAF is the spine when at least one therapist turn in ten returns to it (a 50-minute
# session has some 300 therapist turns, most of them short prompts and acknowledgements) ...
MIDDLE_ON_MODEL_SHARE = 0.10
# ... and below one in forty the focus has effectively been lost.
MIDDLE_OFF_MODEL_SHARE = 0.025
# A spine runs through the session: references in at least two of its three thirds, not one burst.
MIN_THIRDS_WITH_IPAF = 2
# The scale's transference item asks for the transference to be taken up in relation to the IPAF at least
# once (its "competent" anchor).
MIN_TRANSFERENCE_LINKS = 1
# Initial phase: the IPAF is being formed, so two references, however tentative, show it taking shape.
INITIAL_ON_MODEL_REFERENCES = 2
# Ending phase: the ending is still about the focus; two references tie the letter and the loss to it.
ENDING_ON_MODEL_REFERENCES = 2
# Two turns of another model's technique are a pattern rather than a stray word; when they also
# outnumber the IPAF references, the session is being run on that other model.
OFF_MODEL_MIN_MARKERS = 2

OFF_MODEL_MARKERS: dict[str, str] = {
    "CBT homework": r"\bhomework\b|\bbetween (now and next time|sessions),? (i would like you to |)(fill|write|"
    r"complete|practise|keep|do|try|rate|record)",
    "thought record": r"\bthought (record|diary)|\bthree columns?\b|\bautomatic thoughts?\b",
    # Not "evidence that" or "challenge it" alone: "you took it as evidence that nobody cares" and "you
    # didn't challenge it" are DIT's own words about the pattern.
    "challenging a thought": r"\bevidence (for and against|against (the|that|this|your))\b|"
    r"\b(look at|list|examine|write down|what is|what's) the evidence\b|\bbalanced (thought|alternative)|"
    r"\b(more )?balanced,? alternative|\bchallenge (the |that |this |your )?(\w+ )?(thought|belief)s?\b",
    "cognitive distortion": r"\b(thinking|cognitive) (error|distortion|style|trap)s?\b|\bcatastrophi[sz]|"
    r"\ball-or-nothing\b|\bmind[- ]reading\b|\bshould statements?\b|\bcore belief\b|\bcognitive triangle\b",
    "behavioural experiment": r"\bbehavioural experiment\b",
    "activity scheduling": r"\bactivity (schedule|diary|scheduling)\b|\bmastery and pleasure\b|"
    r"\b(schedule|scheduling) (some |three |a few )?(pleasant|rewarding) activities\b|\bbehavioural activation\b",
    "exposure hierarchy": r"\bexposure (hierarchy|task|exercise)\b|\bgraded exposure\b",
    "symptom rating scale": r"\brate (your|it|how|the|each)\b.*\b(nought|zero|one|0|1) to (ten|a hundred|10|100)\b|"
    r"\bscale of (nought|zero|one|0|1) to\b",
    "relaxation or mindfulness exercise": r"\b(relaxation|breathing|mindfulness) (exercise|recording|training)\b",
    "worksheet": r"\bworksheet\b|\bresponsibility pie chart\b",
}
GOODBYE_LETTER = r"\b(goodbye|good-bye|farewell|ending) letter\b|\bthe letter\b"
ENDING = (
    r"\b(our|the) (ending|last session|final session|last few sessions)\b|\bsessions? (left|to go|remaining)\b|"
    r"\bwhen we (finish|stop|end)\b|\bwe (will )?finish\b|\bfinishing\b|\bsay(ing)? goodbye\b|\bending\b|"
    r"\bafter (we finish|therapy ends|the therapy)\b"
)

_MARKERS = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in OFF_MODEL_MARKERS.items()}
_LETTER = re.compile(GOODBYE_LETTER, re.IGNORECASE)
_ENDING = re.compile(ENDING, re.IGNORECASE)


@dataclass(frozen=True)
class _Counts:
    therapist_turns: int
    ipaf: list[int]  # indices of the turns that refer to the IPAF
    links: list[int]  # indices of the turns that link the transference to it
    thirds: int  # thirds of the session (by time) with at least one IPAF reference
    markers: list[dict]
    letter: list[int]
    ending: list[int]


def is_patient(segment: Mapping) -> bool:
    return str(segment.get("speaker") or "").strip().lower() == "patient"


def is_scored(segment: Mapping) -> bool:
    """What may be the therapist's words: not the patient's, and not a stretch marked inaudible (its text
    only says where to listen)."""
    return not is_patient(segment) and not segment.get("inaudible")


def session_verdict(transcript: Mapping, segment_scores: Sequence[Mapping], phase: Phase | str | None) -> dict:
    """{"verdict", "reasons", "evidence", "off_model_markers"} for one session. `segment_scores` is what
    `OnModelClassifier.predict_segments` returns; patient turns (scores of None) are not the therapist's
    work and are left out, except that no turn is left out of a transcript without speakers."""
    phase = Phase(phase) if phase is not None else None
    segments = transcript["segments"]
    counts = _count(transcript, segment_scores)
    if phase is Phase.INITIAL:
        verdict, reasons = _initial(counts)
    elif phase is Phase.ENDING:
        verdict, reasons = _ending(counts)
    else:
        verdict, reasons = _middle(counts, require_links=phase is Phase.MIDDLE)
        if phase is None:
            reasons.append("No phase was given, so the session was judged on the IPAF focus alone.")
    if counts.markers:
        names = sorted({marker["marker"] for marker in counts.markers})
        turns = len({marker["index"] for marker in counts.markers})
        reasons.append(f"Off-model technique: {', '.join(names)} ({_turns(turns)}).")
        if turns >= OFF_MODEL_MIN_MARKERS and turns >= len(counts.ipaf):
            verdict = OFF_MODEL
            reasons.append("Techniques from another model take up more of the session than the IPAF does.")
        elif verdict == ON_MODEL:
            verdict = DRIFTING
    return {
        "verdict": verdict,
        "phase": phase.value if phase else None,
        "reasons": reasons,
        "evidence": _evidence(segments, segment_scores, counts, phase),
        "off_model_markers": counts.markers,
    }


def _count(transcript: Mapping, segment_scores: Sequence[Mapping]) -> _Counts:
    segments = transcript["segments"]
    duration = transcript.get("duration") or max((segment["end"] for segment in segments), default=0.0)
    scored = [score for score in segment_scores if score["ipaf_reference"] is not None]
    ipaf = [score["index"] for score in scored if score["ipaf_reference"] >= EVIDENCE_THRESHOLD]
    links = [score["index"] for score in scored if score["transference_link"] >= EVIDENCE_THRESHOLD]
    thirds = {min(int(3 * segments[index]["start"] / duration), 2) for index in ipaf} if duration else set()
    therapist = [index for index, segment in enumerate(segments) if is_scored(segment)]
    markers = []
    for index in therapist:
        segment = segments[index]
        for name, pattern in _MARKERS.items():
            if pattern.search(segment["text"]):
                markers.append({"index": index, "start": segment["start"], "end": segment["end"], "marker": name})
    return _Counts(
        therapist_turns=len(scored),
        ipaf=ipaf,
        links=links,
        thirds=len(thirds),
        markers=markers,
        letter=[index for index in therapist if _LETTER.search(segments[index]["text"])],
        ending=[index for index in therapist if _ENDING.search(segments[index]["text"])],
    )


def _turns(n: int) -> str:
    return f"{n} turn" if n == 1 else f"{n} turns"


def _share(counts: _Counts) -> float:
    return len(counts.ipaf) / counts.therapist_turns if counts.therapist_turns else 0.0


def _ipaf_reason(counts: _Counts) -> str:
    return (f"The therapist refers to the IPAF in {len(counts.ipaf)} of {_turns(counts.therapist_turns)} "
            f"({_share(counts):.0%}), in {counts.thirds} of the session's three thirds.")


def _link_reason(counts: _Counts) -> str:
    if counts.links:
        return f"The relationship with the therapist is linked to the IPAF in {_turns(len(counts.links))}."
    return "The relationship with the therapist is not linked to the IPAF."


def _middle(counts: _Counts, *, require_links: bool) -> tuple[str, list[str]]:
    reasons = [_ipaf_reason(counts)]
    share = _share(counts)
    if require_links:
        reasons.append(_link_reason(counts))
    if share < MIDDLE_OFF_MODEL_SHARE:
        reasons.append("The IPAF is all but absent: the session is not organised around the agreed focus.")
        return OFF_MODEL, reasons
    spine = share >= MIDDLE_ON_MODEL_SHARE and counts.thirds >= MIN_THIRDS_WITH_IPAF
    if not spine:
        reasons.append("The IPAF comes up, but not often or widely enough to be the spine of the session.")
    if spine and (not require_links or len(counts.links) >= MIN_TRANSFERENCE_LINKS):
        return ON_MODEL, reasons
    return DRIFTING, reasons


def _initial(counts: _Counts) -> tuple[str, list[str]]:
    reasons = [_ipaf_reason(counts), ("Initial phase: the IPAF is still being formed, so a link to the "
               "transference is not expected yet.")]
    if len(counts.ipaf) >= INITIAL_ON_MODEL_REFERENCES:
        reasons.append("The focus is taking shape in the therapist's interventions.")
        return ON_MODEL, reasons
    if counts.ipaf:
        reasons.append("The focus is glimpsed only once.")
        return DRIFTING, reasons
    reasons.append("Nothing the therapist says yet points towards the IPAF.")
    return OFF_MODEL, reasons


def _ending(counts: _Counts) -> tuple[str, list[str]]:
    reasons = [_ipaf_reason(counts)]
    reasons.append(f"The goodbye letter is mentioned in {_turns(len(counts.letter))}." if counts.letter
                   else "The goodbye letter is not mentioned.")
    reasons.append(f"The ending is talked about in {_turns(len(counts.ending))}." if counts.ending
                   else "The ending is not talked about.")
    present = sum([bool(counts.letter), bool(counts.ending), len(counts.ipaf) >= ENDING_ON_MODEL_REFERENCES])
    if present == 3:
        return ON_MODEL, reasons
    if present == 0:
        return OFF_MODEL, reasons
    return DRIFTING, reasons


def _evidence(segments: Sequence[Mapping], segment_scores: Sequence[Mapping], counts: _Counts,
              phase: Phase | None) -> list[dict]:
    by_index = {score["index"]: score for score in segment_scores}
    evidence = []
    for label, indices in (("ipaf_reference", counts.ipaf), ("transference_link", counts.links)):
        strongest = sorted(indices, key=lambda index: by_index[index][label], reverse=True)[:EVIDENCE_PER_LABEL]
        evidence += [_item(segments, index, label, by_index[index][label]) for index in strongest]
    if phase is Phase.ENDING:
        evidence += [_item(segments, index, "goodbye_letter", None) for index in counts.letter[:EVIDENCE_PER_LABEL]]
        evidence += [_item(segments, index, "ending", None) for index in counts.ending[:EVIDENCE_PER_LABEL]]
    return sorted(evidence, key=lambda item: (item["index"], item["label"]))


def _item(segments: Sequence[Mapping], index: int, label: str, probability: float | None) -> dict:
    segment = segments[index]
    return {"index": index, "start": segment["start"], "end": segment["end"], "label": label,
            "probability": probability}


def official_verdict(phase: Phase | str, item_scores: Mapping[str, int | None]) -> str | None:
    """What a rating says of the session in the verdict's terms, from its scores on the phase's
    VERDICT_ITEMS: on-model when every one scored is competent, off-model when none rises above
    inappropriate, drifting between; None when none of them was scored."""
    scores = [item_scores[item] for item in VERDICT_ITEMS[Phase(phase)] if item_scores.get(item) is not None]
    if not scores:
        return None
    if min(scores) >= COMPETENT_SCORE:
        return ON_MODEL
    if max(scores) <= INAPPROPRIATE_SCORE:
        return OFF_MODEL
    return DRIFTING
