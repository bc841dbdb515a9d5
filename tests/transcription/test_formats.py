"""Transcripts written out: exact text for each format, and JSON that reads back as it was."""

from __future__ import annotations

import json

from transcription.formats import FORMATS, MEDIA_TYPES, to_json, to_srt, to_txt, to_vtt
from transcription.transcript import Segment, Transcript, Word


def transcript() -> Transcript:
    return Transcript(
        language="en",
        engine="faster-whisper",
        model="tiny.en",
        duration=3725.5,
        segments=[
            Segment(1.0, 3.2, "How have you been?", [Word(1.0, 1.4, "How", 0.93), Word(1.4, 1.7, "have", 0.98),
                                                      Word(1.7, 2.1, "you", None), Word(2.1, 3.2, "been?", 0.87654)]),
            Segment(4.0004, 7.25, "Up & down <mostly> down."),
            Segment(3723.9996, 3725.5, "See you next week.", speaker="therapist", speaker_confidence=0.87654),
        ],
    )


def test_vtt():
    assert to_vtt(transcript()) == (
        "WEBVTT\n"
        "\n"
        "00:00:01.000 --> 00:00:03.200\n"
        "How have you been?\n"
        "\n"
        "00:00:04.000 --> 00:00:07.250\n"
        "Up &amp; down &lt;mostly&gt; down.\n"
        "\n"
        "01:02:04.000 --> 01:02:05.500\n"
        "<v Therapist>See you next week.\n"
    )


def test_srt():
    assert to_srt(transcript()) == (
        "1\n"
        "00:00:01,000 --> 00:00:03,200\n"
        "How have you been?\n"
        "\n"
        "2\n"
        "00:00:04,000 --> 00:00:07,250\n"
        "Up & down <mostly> down.\n"
        "\n"
        "3\n"
        "01:02:04,000 --> 01:02:05,500\n"
        "T: See you next week.\n"
    )


def test_txt():
    assert to_txt(transcript()) == (
        "[00:00:01] How have you been?\n"
        "[00:00:04] Up & down <mostly> down.\n"
        "[01:02:04] T: See you next week.\n"
    )


def test_an_empty_transcript():
    empty = Transcript("en", "openai-whisper", "tiny.en", 10.0, [])
    assert (to_vtt(empty), to_srt(empty), to_txt(empty)) == ("WEBVTT\n", "", "")
    assert json.loads(to_json(empty))["segments"] == []


def test_json_has_exactly_the_documented_shape_and_reads_back():
    data = json.loads(to_json(transcript()))
    assert data == {
        "language": "en",
        "engine": "faster-whisper",
        "model": "tiny.en",
        "duration": 3725.5,
        "segments": [
            {"start": 1.0, "end": 3.2, "speaker": None, "speaker_confidence": None, "text": "How have you been?", "inaudible": False,
                 "edited": None, "joins_next": False,
                 "words": [
                {"start": 1.0, "end": 1.4, "word": "How", "probability": 0.93},
                {"start": 1.4, "end": 1.7, "word": "have", "probability": 0.98},
                {"start": 1.7, "end": 2.1, "word": "you", "probability": None},
                {"start": 2.1, "end": 3.2, "word": "been?", "probability": 0.877},
            ]},
            {"start": 4.0, "end": 7.25, "speaker": None, "speaker_confidence": None, "text": "Up & down <mostly> down.",
             "inaudible": False, "edited": None, "joins_next": False, "words": []},
            {"start": 3724.0, "end": 3725.5, "speaker": "therapist", "speaker_confidence": 0.877, "text": "See you next week.",
             "inaudible": False, "edited": None, "joins_next": False, "words": []},
        ],
    }
    again = Transcript.from_dict(data)
    assert again.to_dict() == data
    assert again.segments[0].words[3] == Word(2.1, 3.2, "been?", 0.877)
    assert (again.segments[2].speaker, again.segments[2].speaker_confidence) == ("therapist", 0.877)


def test_every_format_has_a_media_type():
    assert set(FORMATS) == set(MEDIA_TYPES) == {"json", "vtt", "srt", "txt"}
    assert all(callable(write) and isinstance(write(transcript()), str) for write in FORMATS.values())
