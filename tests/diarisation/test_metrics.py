"""The diarisation error rate, on timelines made by hand."""

from __future__ import annotations

import pytest

from transcription.diarize import diarisation_error, diarisation_error_rate
from transcription.diarize.error_rate import joined_lines

REFERENCE = [(0.0, 10.0, "therapist"), (10.0, 30.0, "patient"), (30.0, 40.0, "therapist")]


def test_perfect_under_any_names():
    hypothesis = [(0.0, 10.0, 7), (10.0, 30.0, 3), (30.0, 40.0, 7)]
    assert diarisation_error_rate(REFERENCE, hypothesis, collar=0) == 0
    assert diarisation_error_rate(REFERENCE, hypothesis) == 0


def test_swapped_labels_are_mapped_back():
    hypothesis = [(0.0, 10.0, "patient"), (10.0, 30.0, "therapist"), (30.0, 40.0, "patient")]
    assert diarisation_error_rate(REFERENCE, hypothesis, collar=0) == 0


def test_missed_false_alarm_and_confusion():
    hypothesis = [
        (0.0, 8.0, "A"),  # 2 s of the therapist missed
        (10.0, 30.0, "B"),
        (30.0, 35.0, "B"),  # 5 s of the therapist given to the patient
        (35.0, 40.0, "A"),
        (45.0, 48.0, "A"),  # 3 s of speech where there was none
    ]
    error = diarisation_error(REFERENCE, hypothesis, collar=0)
    assert error.total == pytest.approx(40.0)
    assert error.missed == pytest.approx(2.0)
    assert error.confusion == pytest.approx(5.0)
    assert error.false_alarm == pytest.approx(3.0)
    assert error.rate == pytest.approx(10 / 40)


def test_everything_one_speaker():
    assert diarisation_error_rate(REFERENCE, [(0.0, 40.0, 0)], collar=0) == pytest.approx(20 / 40)


def test_nothing_found():
    assert diarisation_error_rate(REFERENCE, [], collar=0) == pytest.approx(1.0)


def test_collar_forgives_boundaries():
    late = [(0.0, 10.2, "A"), (10.2, 30.0, "B"), (30.0, 40.0, "A")]
    assert diarisation_error_rate(REFERENCE, late, collar=0) == pytest.approx(0.2 / 40)
    assert diarisation_error_rate(REFERENCE, late, collar=0.25) == 0


def test_overlapping_reference_speech_counts_for_both():
    reference = [(0.0, 10.0, "T"), (8.0, 20.0, "P")]
    error = diarisation_error(reference, [(0.0, 9.0, "a"), (9.0, 20.0, "b")], collar=0)
    assert error.total == pytest.approx(22.0)
    # 8-10 s: two speaking, one found each frame: 2 s missed, and 9-10 s the one found is "P": no confusion.
    assert error.missed == pytest.approx(2.0)
    assert error.confusion == pytest.approx(0.0)


def test_lines_are_joined_into_turns_across_a_short_pause_of_one_speaker_only():
    lines = [(0.0, 1.0, "a"), (1.5, 3.0, "a"), (5.5, 6.0, "a"), (6.2, 7.0, "b"), (7.1, 8.0, "a")]
    assert joined_lines(lines, bridge_s=2.0) == [(0.0, 3.0, "a"), (5.5, 6.0, "a"), (6.2, 7.0, "b"), (7.1, 8.0, "a")]
    # A pause a turn bridges, lost when lines are scored one by one, is speech when they are joined.
    reference = [(0.0, 3.0, "x")]
    assert diarisation_error(reference, lines[:2], collar=0).missed == pytest.approx(0.5, abs=0.02)
    assert diarisation_error(reference, joined_lines(lines[:2], bridge_s=2.0), collar=0).missed == pytest.approx(0)
