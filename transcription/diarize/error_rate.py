"""The diarisation error rate: how far turns found are from reference turns, as NIST and
pyannote.metrics count it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from transcription.diarize.options import TurnOptions


@dataclass(frozen=True)
class DiarisationError:
    """Seconds of reference speech missed, of speech found where there was none, and of speech
    given to the wrong speaker (under the best one-to-one mapping of speakers), out of `total`
    seconds of reference speech scored."""

    missed: float
    false_alarm: float
    confusion: float
    total: float

    @property
    def rate(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0


def diarisation_error(reference: Iterable[tuple[float, float, object]], hypothesis: Iterable[tuple[float, float, object]],
                      collar: float = 0.25, resolution: float = 0.01) -> DiarisationError:
    """The diarisation error rate's parts, as NIST and pyannote.metrics count them: frames within
    `collar` seconds of a reference turn's start or end are not scored; overlapping speech counts
    once per speaker. Turns are (start, end, speaker)."""
    from scipy.optimize import linear_sum_assignment

    reference, hypothesis = list(reference), list(hypothesis)
    end = max([e for _, e, _ in reference + hypothesis], default=0.0)
    frames = math.ceil(end / resolution) + 1
    ref_speakers = sorted({s for _, _, s in reference}, key=str)
    hyp_speakers = sorted({s for _, _, s in hypothesis}, key=str)

    def grid(turns, speakers):
        out = np.zeros((len(speakers), frames), dtype=bool)
        index = {s: i for i, s in enumerate(speakers)}
        for s, e, who in turns:
            out[index[who], round(s / resolution) : round(e / resolution)] = True
        return out

    ref, hyp = grid(reference, ref_speakers), grid(hypothesis, hyp_speakers)
    scored = np.ones(frames, dtype=bool)
    c = round(collar / resolution)
    if c:
        for s, e, _ in reference:
            for edge in (round(s / resolution), round(e / resolution)):
                scored[max(0, edge - c) : edge + c] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    # The mapping of hypothesis speakers onto reference speakers that agrees on the most frames.
    agreement = ref.astype(np.int64) @ hyp.T.astype(np.int64) if len(ref) and len(hyp) else np.zeros((0, 0))
    correct = np.zeros(ref.shape[1], dtype=np.int64)
    if agreement.size:
        rows, cols = linear_sum_assignment(-agreement)
        for r, h in zip(rows, cols, strict=True):
            correct += ref[r] & hyp[h]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    return DiarisationError(missed * resolution, false_alarm * resolution, confusion * resolution,
                            n_ref.sum() * resolution)


def diarisation_error_rate(reference, hypothesis, collar: float = 0.25) -> float:
    return diarisation_error(reference, hypothesis, collar).rate


def joined_lines(lines: Iterable[tuple[float, float, object]], bridge_s: float = TurnOptions().bridge_s
                 ) -> list[tuple[float, float, object]]:
    """Transcript lines (start, end, speaker) in time order, consecutive lines of one speaker joined into
    one turn across a pause shorter than `bridge_s`, as turns bridge it: the turns a rater reads off the
    page. A line ends at every pause, so lines scored one by one count each pause inside a turn missed."""
    turns: list[tuple[float, float, object]] = []
    for start, end, speaker in lines:
        if turns and turns[-1][2] == speaker and start - turns[-1][1] < bridge_s:
            turns[-1] = (turns[-1][0], max(end, turns[-1][1]), speaker)
        else:
            turns.append((start, end, speaker))
    return turns
