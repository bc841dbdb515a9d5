"""People's corrections of a transcript's text (transcription/edits.py), and lines split by speaker
joined again when given back (transcription/roles/corrections.py)."""

from __future__ import annotations

import dataclasses

import pytest

from transcription.edits import EditKind, EditRefused, LineEdit, apply_edit, apply_edits, replay, retime
from transcription.roles import Correction, apply_corrections, set_speaker
from transcription.transcript import Segment, Transcript, Word, line_map

WHEN = "2026-12-03T10:00:00+00:00"


def line(start: float, text: str, speaker: str | None = "therapist", step: float = 0.5) -> Segment:
    words = [Word(round(start + i * step, 3), round(start + (i + 1) * step - 0.05, 3), w, 0.9)
             for i, w in enumerate(text.split())]
    return Segment(words[0].start, words[-1].end, text, words, speaker, 0.8)


def session() -> Transcript:
    return Transcript("en", "faster-whisper", "tiny.en", 30.0, [
        line(0.0, "How have you been since we last met?"),
        line(5.0, "Crying mostly, when I think of my mother.", "patient"),
        line(10.0, "You said she never listened."),
        line(13.0, "And here, with me, do you feel listened to?"),
    ])


def edit(kind, seg: Segment, end: float | None = None, **fields) -> LineEdit:
    return LineEdit(kind, seg.start, end if end is not None else seg.end, "supervisor", WHEN, **fields)


def test_a_retyped_line_keeps_the_times_of_the_words_it_shares_and_what_was_recognised():
    before = session()
    after = apply_edit(before, edit(EditKind.TEXT, before.segments[1],
                                    text="Frightening mostly, when I think of my mother."))
    seg = after.segments[1]
    assert seg.text == "Frightening mostly, when I think of my mother."
    assert seg.edited.recognised == "Crying mostly, when I think of my mother." and seg.edited.by == "supervisor"
    # "Frightening" takes the time of "Crying"; the rest keep theirs.
    assert [w.word for w in seg.words] == seg.text.split()
    assert (seg.words[0].start, seg.words[0].end) == (before.segments[1].words[0].start, before.segments[1].words[0].end)
    assert seg.words[1:] == [dataclasses.replace(w) for w in before.segments[1].words[1:]]
    assert (seg.start, seg.end, seg.speaker) == (before.segments[1].start, before.segments[1].end, "patient")
    # Corrected again: what the recogniser heard is still what is kept.
    again = apply_edit(after, edit(EditKind.TEXT, seg, text="Frightened mostly."))
    assert again.segments[1].edited.recognised == "Crying mostly, when I think of my mother."
    assert [w.start for w in again.segments[1].words] == [5.0, 5.5]
    assert again.to_dict()["segments"][1]["edited"]["recognised"] == "Crying mostly, when I think of my mother."
    assert Transcript.from_dict(again.to_dict()) == again


def test_inserted_words_share_the_gap_they_fall_in_and_an_inaudible_line_can_be_typed_in():
    words = line(0.0, "you said never listened").words
    timed = retime(words, "you said she never listened", 0.0, 2.0)
    assert [w.word for w in timed] == ["you", "said", "she", "never", "listened"]
    assert timed[1].end <= timed[2].start <= timed[2].end <= timed[3].start
    inaudible = Segment(20.0, 24.0, "[inaudible 0:20–0:24]", [], "patient", 0.7, inaudible=True)
    transcript = dataclasses.replace(session(), segments=[*session().segments, inaudible])
    typed = apply_edit(transcript, edit(EditKind.TEXT, inaudible, text="I was so angry with her")).segments[-1]
    assert not typed.inaudible and typed.text == "I was so angry with her" and typed.speaker == "patient"
    assert typed.words[0].start == 20.0 and typed.words[-1].end == 24.0


def test_lines_are_merged_and_split_and_references_to_them_follow():
    before = session()
    third, fourth = before.segments[2], before.segments[3]
    merged = apply_edit(before, edit(EditKind.MERGE, third, end=fourth.end))
    assert len(merged.segments) == 3
    assert merged.segments[2].text == "You said she never listened. And here, with me, do you feel listened to?"
    assert merged.segments[2].edited.recognised == merged.segments[2].text
    assert line_map(before.segments, merged.segments) == {0: [0], 1: [1], 2: [2], 3: [2]}

    split = apply_edit(merged, edit(EditKind.SPLIT, merged.segments[2], split_at=fourth.words[0].start))
    assert [s.text for s in split.segments[2:]] == [third.text, fourth.text]
    assert [(s.start, s.end) for s in split.segments[2:]] == [(third.start, third.end), (fourth.start, fourth.end)]
    assert line_map(merged.segments, split.segments) == {0: [0], 1: [1], 2: [2, 3]}

    with pytest.raises(EditRefused, match="different speakers"):
        apply_edit(before, edit(EditKind.MERGE, before.segments[0], end=before.segments[1].end))
    yes = line(20.0, "Yes.", "patient")
    with pytest.raises(EditRefused, match="one word"):
        apply_edit(dataclasses.replace(before, segments=[yes]), edit(EditKind.SPLIT, yes, split_at=20.2))
    with pytest.raises(EditRefused, match="transcript has changed"):
        apply_edit(before, LineEdit(EditKind.TEXT, 7.0, 8.0, "x", WHEN, text="nothing here"))
    for wrong in ({"kind": "rewrite"}, {"kind": "text", "text": "  "}, {"kind": "split", "split_at": 99.0}):
        with pytest.raises(EditRefused):
            LineEdit.from_dict({"start": 10.0, "end": 12.0, "by": "x", "at": WHEN, **wrong})


def test_edits_are_made_again_on_a_new_transcription_where_their_lines_still_are():
    first = session()
    edits = [edit(EditKind.TEXT, first.segments[1], text="Frightening mostly, when I think of my mother."),
             edit(EditKind.MERGE, first.segments[2], end=first.segments[3].end)]
    # A new model hears the lines a little earlier or later and the second one differently, and has
    # lost the first line.
    shifted = [dataclasses.replace(line(s.start + 0.3, s.text, s.speaker)) for s in first.segments[1:]]
    shifted[0] = line(5.3, "Crying most, when I think of my mother.", "patient")
    again, made = apply_edits(dataclasses.replace(first, segments=shifted), [e.to_dict() for e in edits])
    assert made == [True, True]
    assert again.segments[0].text == "Frightening mostly, when I think of my mother."
    assert again.segments[1].text.startswith("You said she never listened. And here")
    # Lines that moved too far are not taken for the corrected ones.
    moved = [line(s.start + 1.5, s.text, s.speaker) for s in first.segments]
    untouched, made = apply_edits(dataclasses.replace(first, segments=moved), edits)
    assert made == [False, False] and [s.text for s in untouched.segments] == [s.text for s in first.segments]


def test_a_retyped_line_since_split_by_speaker_keeps_each_word_with_its_speaker():
    before = session()
    typed = edit(EditKind.TEXT, before.segments[2], text="You said she never really listened.")
    seg = before.segments[2]
    # On the new transcription the people's correction of speakers has split the line first.
    split = apply_corrections(before, [set_speaker(seg.words[3].start, seg.end, "patient")])
    again, made = apply_edits(split, [typed])
    assert made == [True]
    assert [(s.text, s.speaker) for s in again.segments[2:4]] == [("You said she", "therapist"),
                                                                  ("never really listened.", "patient")]


def test_a_line_split_by_speaker_and_given_back_is_one_line_again():
    before = session()
    seg = before.segments[3]
    middle = set_speaker(seg.words[2].start, seg.words[4].end, "patient")
    split = apply_corrections(before, [middle])
    assert [s.speaker for s in split.segments[3:]] == ["therapist", "patient", "therapist"]
    back = apply_corrections(split, [set_speaker(middle.start, middle.end, "therapist")])
    assert len(back.segments) == 4 and back.segments[3].text == seg.text and back.segments[3].words == seg.words
    assert not back.segments[3].joins_next
    # Lines the recogniser made separately stay separate when they have one speaker.
    both = apply_corrections(before, [set_speaker(before.segments[1].start, before.segments[1].end, "therapist")])
    assert len(both.segments) == 4


def stored(correction, at: str) -> dict:
    """A correction of speakers as the service keeps it."""
    return {**correction.to_dict(), "by": "supervisor", "at": at}


def test_corrections_of_text_and_of_speakers_are_made_again_in_the_order_they_were_made():
    """A line split by a person and then half given to the patient comes back as the person left it,
    whichever of the two a new transcription's replay would otherwise have made first."""
    before = session()
    seg = before.segments[3]
    split = LineEdit(EditKind.SPLIT, seg.start, seg.end, "supervisor", "2026-12-03T10:00:00+00:00",
                     split_at=seg.words[3].start)
    given = stored(set_speaker(seg.words[3].start, seg.end, "patient"), "2026-12-03T10:05:00+00:00")
    again, made = replay(before, [split], [given])
    assert made == [True]
    assert [(s.text, s.speaker) for s in again.segments[3:]] == [("And here, with", "therapist"),
                                                                 ("me, do you feel listened to?", "patient")]
    # The person's split, not the change of speaker, divides the line: giving the words back keeps it.
    assert not again.segments[3].joins_next
    back, _ = replay(again, [], [stored(set_speaker(seg.words[3].start, seg.end, "therapist"),
                                        "2026-12-03T10:09:00+00:00")])
    assert len(back.segments) == 5
    # Made in the other order, speakers first, the split finds its line already divided and is refused.
    _, made = apply_edits(apply_corrections(before, [Correction.from_dict(given)]), [split])
    assert made == [False]


def test_a_merge_made_before_a_change_of_speaker_is_made_before_it():
    before = session()
    first, second = before.segments[2], before.segments[3]
    merge = LineEdit(EditKind.MERGE, first.start, second.end, "supervisor", "2026-12-03T10:00:00+00:00")
    given = stored(set_speaker(second.words[5].start, second.end, "patient"), "2026-12-03T10:05:00+00:00")
    again, made = replay(before, [merge], [given])
    assert made == [True]
    assert [(s.text, s.speaker) for s in again.segments[2:]] == [
        ("You said she never listened. And here, with me, do", "therapist"), ("you feel listened to?", "patient")]
    # Speakers first, the lines to merge have two speakers by then.
    assert replay(before, [dataclasses.replace(merge, at="2026-12-03T10:09:00+00:00")], [given])[1] == [False]
    # Corrections kept before they carried a time come first.
    assert replay(before, [merge], [{k: v for k, v in given.items() if k != "at"}])[1] == [False]
    # A swap of roles is made with the roles, not here.
    swap = {"kind": "therapist_at", "start": 6.0, "by": "supervisor", "at": "2026-12-03T10:01:00+00:00"}
    assert replay(before, [], [swap])[0] == before
