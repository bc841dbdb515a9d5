"""Speaker turns, and the frame grid on which they are cut.

Both ways to the turns (by channel, by voice) label each frame of a recording with the speaker
talking in it, -1 where nobody is; a short flip between speakers is smoothed away, a frame of
speech without a label takes its neighbour's, and each run of one label becomes a turn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from transcription.diarize.options import TurnOptions


@dataclass(frozen=True)
class Turn:
    """One speaker talking from `start` to `end` (seconds). `speaker` numbers the voices from 0: by
    order of first appearance when told apart by voice, by channel (0 the left) when by channel.
    `confidence` in [0.5, 1]: how surely the speaker is the right one (the share of the votes, or
    how far the louder channel leads)."""

    start: float
    end: float
    speaker: int
    confidence: float = 1.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Diarisation:
    turns: list[Turn]
    duration: float
    method: str  # "channels" or "voices"
    speakers: int
    # Speech found, in seconds: the union of the turns.
    speech_seconds: float = 0.0
    # For method "voices": each speaker's mean embedding from the clustering (L2-normed), and how
    # well the voices separated (silhouette, cosine: about 0.3 and over for distinct voices, under
    # 0.25 where "two speakers" are one voice cut in two; None for one speaker).
    centroids: dict[int, np.ndarray] = field(default_factory=dict)
    separation: float | None = None

    def talk_time(self) -> dict[int, float]:
        return talk_time(self.turns, self.speakers)


def talk_time(turns: Iterable[Turn], speakers: int = 0) -> dict[int, float]:
    """Seconds spoken by each speaker; speakers up to `speakers` are listed even if silent."""
    totals = {speaker: 0.0 for speaker in range(speakers)}
    for turn in turns:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + turn.duration
    return totals


def speech_seconds(turns: Sequence[Turn]) -> float:
    return round(sum(turn.duration for turn in turns), 3)


def frame_count(duration: float, options: TurnOptions = TurnOptions()) -> int:
    return max(1, math.ceil(duration / options.frame_s))


def speech_mask(regions: Sequence[tuple[float, float]], frames: int, options: TurnOptions = TurnOptions()
                ) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for start, end in regions:
        mask[round(start / options.frame_s) : round(end / options.frame_s)] = True
    return mask


def runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, value) for each run of equal values."""
    if len(values) == 0:
        return []
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(values)]])
    return [(int(s), int(e), int(values[s])) for s, e in zip(starts, ends, strict=True)]


def smooth(labels: np.ndarray, options: TurnOptions = TurnOptions()) -> np.ndarray:
    """Within each stretch of speech (labels >= 0), a run shorter than `options.min_flip_s` that
    silence does not bound on both sides goes to the neighbouring speaker with the longer run."""
    labels = labels.copy()
    limit = round(options.min_flip_s / options.frame_s)
    while True:
        found = runs(labels)
        touched: set[int] = set()
        # Shortest first, so that one short flip is absorbed before it can shield another; a run
        # next to one changed in this pass waits for the next pass, which sees the runs as they are.
        short = sorted((i for i, (s, e, v) in enumerate(found) if v >= 0 and e - s < limit),
                       key=lambda i: found[i][1] - found[i][0])
        for index in short:
            if touched & {index - 1, index, index + 1}:
                continue
            neighbours = [found[i] for i in (index - 1, index + 1) if 0 <= i < len(found) and found[i][2] >= 0]
            if not neighbours:
                continue  # a short utterance with pauses either side: a turn of its own
            start, end, _ = found[index]
            labels[start:end] = max(neighbours, key=lambda r: r[1] - r[0])[2]
            touched.add(index)
        if not touched:
            return labels


def fill(labels: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Frames in `holes` take the label of the nearest frame outside them that has one."""
    if not holes.any():
        return labels
    known = np.flatnonzero(~holes & (labels >= 0))
    if len(known) == 0:
        return np.where(holes, 0, labels)
    filled = labels.copy()
    where = np.flatnonzero(holes)
    position = np.clip(np.searchsorted(known, where), 1, len(known) - 1) if len(known) > 1 else np.zeros_like(where)
    if len(known) > 1:
        left, right = known[position - 1], known[position]
        nearest = np.where(where - left <= right - where, left, right)
    else:
        nearest = np.full_like(where, known[0])
    filled[where] = labels[nearest]
    return filled


def first_appearance(labels: np.ndarray) -> dict[int, int]:
    """Each label's number by the order in which it is first heard."""
    numbering: dict[int, int] = {}
    for _, _, value in runs(labels):
        if value >= 0:
            numbering.setdefault(value, len(numbering))
    return numbering


def label_turns(labels: np.ndarray, confidence: np.ndarray, order_by_first: bool = True,
                options: TurnOptions = TurnOptions()) -> list[Turn]:
    """Turns from per-frame labels (-1 for no speech); speakers renumbered by first appearance
    unless `order_by_first` is false."""
    spoken = [r for r in runs(bridged(labels, options)) if r[2] >= 0]
    numbering = first_appearance(labels) if order_by_first else {value: value for _, _, value in spoken}
    # A turn's confidence is that of its speech, not of the pauses bridged inside it.
    return [Turn(start=round(s * options.frame_s, 3), end=round(e * options.frame_s, 3), speaker=numbering[v],
                 confidence=round(float(np.mean(confidence[s:e][labels[s:e] >= 0])), 3))
            for s, e, v in spoken]


def bridged(labels: np.ndarray, options: TurnOptions = TurnOptions()) -> np.ndarray:
    """`labels` with each pause shorter than `options.bridge_s` between two runs of one speaker given to
    that speaker: one turn, pauses and all."""
    limit = round(options.bridge_s / options.frame_s)
    labels = labels.copy()
    found = runs(labels)
    for (_, _, before), (start, end, value), (_, _, after) in zip(found, found[1:], found[2:]):
        if value < 0 <= before == after and end - start < limit:
            labels[start:end] = before
    return labels
