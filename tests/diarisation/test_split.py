"""Splitting a transcript's segments where the speaker changes, on transcripts made by hand."""

from __future__ import annotations

from transcription.diarize import Turn, assign_speakers, speaker_index, speaker_label
from transcription.transcript import Segment, Transcript, Word

TURNS = [Turn(0.0, 4.0, 0, 0.9), Turn(4.2, 9.0, 1, 0.8), Turn(9.0, 12.0, 0, 0.7)]


def words(*timed: tuple[str, float, float]) -> list[Word]:
    return [Word(start=s, end=e, word=w, probability=0.9) for w, s, e in timed]


def transcript(*segments: Segment) -> Transcript:
    return Transcript(language="en", engine="faster-whisper", model="tiny.en", duration=12.0, segments=list(segments))


def speaker_of(time: float) -> int:
    return next(t.speaker for t in TURNS if t.start <= time < t.end)


def test_labels_round_trip():
    assert speaker_label(0) == "speaker 1"
    assert speaker_index(speaker_label(2)) == 2
    assert speaker_index("therapist") is None
    assert speaker_index(None) is None


def test_a_segment_across_a_change_is_split_at_the_words():
    segment = Segment(0.5, 6.0, " How are you? I am tired.", words(
        ("How", 0.5, 0.8), ("are", 0.8, 1.0), ("you?", 1.0, 1.6), ("I", 4.3, 4.5), ("am", 4.5, 4.8),
        ("tired.", 4.8, 6.0)))
    result = assign_speakers(transcript(segment), TURNS)
    assert [(s.speaker, s.text, s.start, s.end) for s in result.segments] == [
        ("speaker 1", "How are you?", 0.5, 1.6),
        ("speaker 2", "I am tired.", 4.3, 6.0),
    ]
    assert [s.speaker_confidence for s in result.segments] == [0.9, 0.8]
    assert [len(s.words) for s in result.segments] == [3, 3]


def test_no_segment_mixes_speakers():
    # Three turns inside one long Whisper segment.
    timed = [(f"w{i}{'.' if i in (6, 14) else ''}", i * 0.6, i * 0.6 + 0.5) for i in range(20)]
    result = assign_speakers(transcript(Segment(0.0, 12.0, "...", words(*timed))), TURNS)
    assert [s.speaker for s in result.segments] == ["speaker 1", "speaker 2", "speaker 1"]
    for segment in result.segments:
        assert {speaker_of((w.start + w.end) / 2) for w in segment.words} == {speaker_index(segment.speaker)}
        assert segment.start == segment.words[0].start and segment.end == segment.words[-1].end
        assert segment.text == " ".join(w.word for w in segment.words)
    assert sum(len(s.words) for s in result.segments) == 20


def test_a_segment_in_one_turn_keeps_whisper_text_and_times():
    segment = Segment(4.25, 8.0, "Not great, to be honest.", words(
        ("Not", 4.3, 4.5), ("great,", 4.5, 5.0), ("to", 5.1, 5.2), ("be", 5.2, 5.4), ("honest.", 5.4, 6.0)))
    (result,) = assign_speakers(transcript(segment), TURNS).segments
    assert (result.start, result.end, result.text, result.speaker) == (4.25, 8.0, "Not great, to be honest.",
                                                                        "speaker 2")


def test_a_last_word_running_on_into_the_next_turn_stays_with_its_sentence():
    # Whisper's last word often ends late, in the next speaker's turn.
    segment = Segment(2.0, 4.4, "What happened between the two of you?", words(
        ("What", 2.0, 2.2), ("happened", 2.2, 2.6), ("between", 2.6, 3.0), ("the", 3.0, 3.1), ("two", 3.1, 3.4),
        ("of", 3.4, 3.6), ("you?", 3.9, 4.4)))
    (result,) = assign_speakers(transcript(segment), TURNS).segments
    assert result.speaker == "speaker 1"


def test_a_first_word_starting_early_goes_with_its_sentence():
    segment = Segment(3.8, 6.0, "She cancelled again.", words(
        ("She", 3.8, 4.3), ("cancelled", 4.3, 5.0), ("again.", 5.0, 6.0)))
    (result,) = assign_speakers(transcript(segment), TURNS).segments
    assert result.speaker == "speaker 2"


def test_a_short_answer_is_a_turn_of_its_own():
    turns = [Turn(0.0, 2.0, 0), Turn(2.1, 2.6, 1), Turn(2.7, 5.0, 0)]
    segment = Segment(0.0, 5.0, "Is that familiar? Yes. So it is old.", words(
        ("Is", 0.0, 0.3), ("that", 0.3, 0.8), ("familiar?", 0.8, 1.9), ("Yes.", 2.1, 2.5), ("So", 2.8, 3.0),
        ("it", 3.0, 3.2), ("is", 3.2, 3.4), ("old.", 3.4, 4.0)))
    result = assign_speakers(transcript(segment), turns)
    assert [(s.speaker, s.text) for s in result.segments] == [
        ("speaker 1", "Is that familiar?"), ("speaker 2", "Yes."), ("speaker 1", "So it is old.")]


def test_words_in_a_pause_go_to_the_nearest_turn():
    segment = Segment(12.1, 13.0, "Right.", words(("Right.", 12.1, 13.0)))
    (result,) = assign_speakers(transcript(segment), TURNS).segments
    assert result.speaker == "speaker 1"


def test_segments_without_words_take_the_turn_they_overlap_most():
    result = assign_speakers(transcript(Segment(3.0, 8.0, "Mm.")), TURNS)
    assert result.segments[0].speaker == "speaker 2"


def test_without_turns_nobody_speaks():
    segment = Segment(0.0, 1.0, "Hello.", words(("Hello.", 0.0, 1.0)))
    (result,) = assign_speakers(transcript(segment), []).segments
    assert result.speaker is None and result.speaker_confidence is None


def test_the_original_is_left_alone():
    original = transcript(Segment(0.5, 6.0, "How are you? I am tired.", words(
        ("How", 0.5, 0.8), ("are", 0.8, 1.0), ("you?", 1.0, 1.6), ("I", 4.3, 4.5), ("am", 4.5, 4.8),
        ("tired.", 4.8, 6.0))))
    assign_speakers(original, TURNS)
    assert len(original.segments) == 1 and original.segments[0].speaker is None
