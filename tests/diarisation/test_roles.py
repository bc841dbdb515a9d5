"""Roles from what is known about who is who, and corrections that outlast re-transcription,
on transcripts made by hand."""

from __future__ import annotations

import numpy as np
import pytest

from transcription.diarize import Turn, assign_speakers
from transcription.roles import (
    PATIENT,
    THERAPIST,
    Correction,
    RoleAssignment,
    apply_corrections,
    assign_roles,
    combine_voiceprints,
    is_question,
    set_speaker,
    swap_assignment,
    swap_roles,
    voice_similarity,
)
from transcription.transcript import Segment, Transcript, Word

# speaker 0 asks briefly; speaker 1 answers at length.
LINES = [
    (0, 0.0, 2.0, "How have you been since we last met?"),
    (1, 2.5, 9.0, "Not great. I had another argument with my sister and I keep going over it."),
    (0, 9.5, 11.0, "What happened between you?"),
    (1, 11.5, 20.0, "She cancelled our plans again. I said it was fine, but it was not fine at all."),
    (0, 20.5, 22.0, "Is that feeling familiar?"),
    (1, 22.5, 30.0, "Yes. It is how I felt growing up, when nobody had time for me."),
]


def timed_words(text: str, start: float, end: float) -> list[Word]:
    tokens = text.split()
    step = (end - start) / len(tokens)
    return [Word(start + i * step, start + (i + 1) * step - 0.02, token, 0.9) for i, token in enumerate(tokens)]


def make(lines=LINES, *, flip: bool = False) -> tuple[Transcript, list[Turn]]:
    turns = [Turn(start, end, (1 - speaker) if flip else speaker, 0.9) for speaker, start, end, _ in lines]
    segments = [Segment(start, end, text, timed_words(text, start, end)) for _, start, end, text in lines]
    return Transcript("en", "faster-whisper", "tiny.en", 30.0, segments), turns


def labelled(lines=LINES, **options):
    transcript, turns = make(lines)
    return assign_roles(assign_speakers(transcript, turns), turns, **options)


@pytest.mark.parametrize(("sentence", "question"), [
    ("How have you been?", True),
    ("Do you think she knew", True),
    ("What did you feel then", True),
    ("Tell me more about that.", True),
    ("When I was a child, nobody listened.", False),
    ("It was not fine.", False),
    ("Yes.", False),
])
def test_questions(sentence, question):
    assert is_question(sentence) is question


def test_the_one_who_asks_and_talks_less_is_the_therapist():
    transcript, roles = labelled()
    assert roles.therapist == 0 and roles.confidence > 0.95
    assert [s.speaker for s in transcript.segments] == [THERAPIST, PATIENT] * 3
    # The segment's confidence: the diarisation's (0.9) times the role's.
    assert transcript.segments[0].speaker_confidence == pytest.approx(0.9 * roles.confidence, abs=1e-3)
    therapist = roles.evidence[0]
    assert (therapist.questions, therapist.sentences, therapist.first) == (3, 3, True)
    assert therapist.talk_share == pytest.approx(5 / 27.5, abs=1e-3)
    assert roles.reasons[0] == "Speaker 1 asks 3 of the 3 questions."


def test_speaker_numbers_do_not_decide():
    transcript, turns = make(flip=True)
    _, roles = assign_roles(assign_speakers(transcript, turns), turns)
    assert roles.therapist == 1


def test_the_trainees_voice_outweighs_the_rest():
    # Speaker 1 talks more and asks nothing, but the voice is the trainee's.
    trainee, other = np.eye(4)[0], np.eye(4)[1]
    prints = {0: other, 1: 0.95 * trainee + 0.05 * other}
    _, roles = labelled(therapist_voiceprint=trainee, voiceprints=prints)
    assert roles.therapist == 1 and roles.confidence > 0.99
    assert roles.evidence[1].voice_similarity == pytest.approx(voice_similarity(trainee, prints[1]), abs=1e-4)
    assert roles.reasons[0].startswith("Speaker 2's voice is closer to the trainee's earlier recordings")


def test_confidence_is_low_when_the_evidence_is_even():
    even = [(0, 0.0, 5.0, "I see what you mean."), (1, 5.5, 10.5, "I think I see it too.")]
    _, roles = labelled(even)
    assert 0.5 <= roles.confidence < 0.7


def test_one_voice_has_no_role_without_a_voice_print():
    transcript, turns = make([(0, 0.0, 5.0, "I talk alone. Nobody answers.")])
    result, roles = assign_roles(assign_speakers(transcript, turns), turns)
    assert roles.therapist is None and result.segments[0].speaker is None


def test_one_voice_is_the_trainee_when_it_matches():
    transcript, turns = make([(0, 0.0, 5.0, "I talk alone. Nobody answers.")])
    voice = np.eye(4)[0]
    result, roles = assign_roles(assign_speakers(transcript, turns), turns, voice, {0: voice})
    assert roles.therapist == 0 and result.segments[0].speaker == THERAPIST


def test_role_assignment_round_trips():
    _, roles = labelled()
    assert RoleAssignment.from_dict(roles.to_dict()).to_dict() == roles.to_dict()


def test_voice_prints_combine_to_a_unit_vector():
    combined = combine_voiceprints([np.array([1.0, 0.0]), np.array([0.0, 1.0])], weights=[3, 1])
    assert np.linalg.norm(combined) == pytest.approx(1.0)
    assert combined[0] > combined[1]
    assert combine_voiceprints([]) is None


# --- Corrections ---


def test_swap_makes_the_patient_the_therapist():
    transcript, roles = labelled()
    swap = swap_roles(transcript)
    assert swap.kind == "therapist_at" and 11.5 < swap.start < 20.0  # the patient's longest segment
    swapped = apply_corrections(transcript, [swap], roles)
    assert [s.speaker for s in swapped.segments] == [PATIENT, THERAPIST] * 3
    # A person settled the roles: only the diarisation's doubt remains.
    assert swapped.segments[0].speaker_confidence == pytest.approx(0.9, abs=2e-3)


def test_swap_also_swaps_the_role_assignment():
    _, roles = labelled()
    swapped = swap_assignment(roles)
    assert swapped.therapist == 1 and swapped.roles == {0: PATIENT, 1: THERAPIST}
    assert swapped.confidence == 1.0 and swapped.corrected
    one_voice = swap_assignment(RoleAssignment(None, None, {0: None}))
    assert one_voice.therapist == 0 and one_voice.roles == {0: THERAPIST}


def test_swap_is_refused_when_every_line_is_the_therapists():
    transcript, turns = make([(0, 0.0, 5.0, "I talk alone. Nobody answers.")])
    voice = np.eye(4)[0]
    result, _ = assign_roles(assign_speakers(transcript, turns), turns, voice, {0: voice})
    with pytest.raises(ValueError, match="no patient"):
        swap_roles(result)


def test_swap_anchor_given_to_assign_roles_is_certain():
    transcript, turns = make()
    result, roles = assign_roles(assign_speakers(transcript, turns), turns, therapist_at=15.0)
    assert roles.therapist == 1 and roles.confidence == 1.0 and roles.corrected
    assert result.segments[1].speaker == THERAPIST and result.segments[1].speaker_confidence == 0.9


def test_confirming_the_therapist_changes_nothing_but_confidence():
    transcript, roles = labelled()
    confirmed = apply_corrections(transcript, [Correction("therapist_at", 1.0)], roles)
    assert [s.speaker for s in confirmed.segments] == [s.speaker for s in transcript.segments]


def test_split_a_segments_speaker_at_a_word():
    transcript, _ = labelled()
    segment = transcript.segments[1]  # the patient: "Not great. I had another argument ..."
    # From "I" on, it was the therapist interrupting.
    split = set_speaker(segment.words[2].start, segment.end, THERAPIST)
    result = apply_corrections(transcript, [split])
    assert [(s.speaker, s.text) for s in result.segments[1:3]] == [
        (PATIENT, "Not great."),
        (THERAPIST, "I had another argument with my sister and I keep going over it."),
    ]
    assert result.segments[2].speaker_confidence == 1.0
    assert result.segments[1].speaker_confidence == transcript.segments[1].speaker_confidence


def test_merge_a_segment_under_one_speaker():
    transcript, _ = labelled()
    split = apply_corrections(transcript, [set_speaker(4.0, 9.0, THERAPIST)])
    merged = apply_corrections(split, [set_speaker(2.5, 9.0, PATIENT)])
    # The line the first correction split is one line again, under one speaker.
    assert [s.speaker for s in merged.segments if 2.5 <= s.start < 9.0] == [PATIENT]
    assert all(s.speaker_confidence == 1.0 for s in merged.segments if 2.5 <= s.start < 9.0)


def test_corrections_survive_retranscription():
    transcript, turns = make()
    corrections = [Correction.from_dict(c.to_dict()) for c in
                   (Correction("therapist_at", 15.0), set_speaker(25.0, 30.0, THERAPIST))]
    first = apply_corrections(assign_roles(assign_speakers(transcript, turns), turns)[0], corrections)
    # Transcribed again: the same speech in differently cut segments, with slightly different words.
    again = Transcript("en", "faster-whisper", "base.en", 30.0, [
        Segment(0.0, 11.0, "...", timed_words("How have you been since we last met? Not great at all. What happened?",
                                              0.0, 11.0)),
        Segment(11.5, 30.0, "...", timed_words("She cancelled our plans. Is that feeling familiar? Yes it is how "
                                               "I felt growing up when nobody had time for me.", 11.5, 30.0)),
    ])
    second = apply_corrections(assign_roles(assign_speakers(again, turns), turns)[0], corrections)

    def role_at(transcript, time):
        return next(s.speaker for s in transcript.segments for w in s.words if w.start <= time <= w.end + 0.02)

    for time in (1.0, 5.0, 10.0, 15.0, 21.0, 26.0, 29.0):
        assert role_at(first, time) == role_at(second, time), time
    assert role_at(second, 15.0) == THERAPIST and role_at(second, 1.0) == PATIENT and role_at(second, 26.0) == THERAPIST


def test_one_voice_marked_as_the_therapist():
    transcript, turns = make([(0, 0.0, 5.0, "I talk alone. Nobody answers.")])
    result, _ = assign_roles(assign_speakers(transcript, turns), turns)
    marked = apply_corrections(result, [{"kind": "therapist_at", "start": 2.0}])
    assert marked.segments[0].speaker == THERAPIST


@pytest.mark.parametrize("bad", [
    {"kind": "rename", "start": 0.0},
    {"kind": "speaker", "start": 2.0, "end": 1.0, "speaker": THERAPIST},
    {"kind": "speaker", "start": 0.0, "end": 1.0, "speaker": "supervisor"},
])
def test_bad_corrections_are_refused(bad):
    with pytest.raises(ValueError):
        Correction.from_dict(bad)
