"""Frame labels into turns (transcription/diarize/turns.py): a pause inside one speaker's speech stays in
their turn; a pause at a change of speaker, or a long one, does not."""

from __future__ import annotations

import numpy as np

from transcription.diarize.options import TurnOptions
from transcription.diarize.turns import bridged, label_turns

# Frames of a tenth of a second, pauses under half a second bridged.
GRID = TurnOptions(frame_s=0.1, bridge_s=0.5)


def frames(*runs: tuple[int, int]) -> np.ndarray:
    """Labels from (label, frames) runs: -1 for nobody speaking."""
    return np.concatenate([np.full(count, label) for label, count in runs])


def test_a_short_pause_inside_one_speakers_speech_is_part_of_their_turn():
    labels = frames((0, 10), (-1, 3), (0, 5), (-1, 3), (1, 5), (-1, 6), (1, 4))
    assert bridged(labels, GRID).tolist() == frames((0, 18), (-1, 3), (1, 5), (-1, 6), (1, 4)).tolist()
    turns = label_turns(labels, np.where(labels >= 0, 0.9, 0.0), options=GRID)
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 1.8, 0), (2.1, 2.6, 1), (3.2, 3.6, 1)]
    # The pause's frames do not dilute the turn's confidence.
    assert turns[0].confidence == 0.9


def test_silence_at_either_end_is_nobodys():
    labels = frames((-1, 2), (1, 3), (-1, 2))
    assert bridged(labels, GRID).tolist() == labels.tolist()
