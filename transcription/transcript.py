"""The transcript of one recording: timed segments of text, each with its timed words and its
speaker; and how a segment names a diarised speaker before roles are given."""

from __future__ import annotations

from dataclasses import dataclass, field


def speaker_label(speaker: int) -> str:
    """How a diarised speaker is named in a transcript before roles are given: "speaker 1"."""
    return f"speaker {speaker + 1}"


def speaker_index(label: str | None) -> int | None:
    """The diarised speaker a label names (see `speaker_label`); None for a role or no speaker."""
    if label and label.startswith("speaker ") and label[8:].isdigit():
        return int(label[8:]) - 1
    return None


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    speaker_confidence: float | None = None
    # Speech was heard here but no words were recognised, even on a second try (transcription/coverage.py).
    inaudible: bool = False


@dataclass
class Transcript:
    language: str
    engine: str
    model: str
    duration: float
    segments: list[Segment]

    def to_dict(self) -> dict:
        """The stored and served form; times to the millisecond, which is finer than Whisper resolves."""
        return {
            "language": self.language,
            "engine": self.engine,
            "model": self.model,
            "duration": round(self.duration, 3),
            "segments": [
                {
                    "start": round(segment.start, 3),
                    "end": round(segment.end, 3),
                    "speaker": segment.speaker,
                    "speaker_confidence": None if segment.speaker_confidence is None else round(segment.speaker_confidence, 3),
                    "text": segment.text,
                    "inaudible": segment.inaudible,
                    "words": [
                        {
                            "start": round(word.start, 3),
                            "end": round(word.end, 3),
                            "word": word.word,
                            "probability": None if word.probability is None else round(word.probability, 3),
                        }
                        for word in segment.words
                    ],
                }
                for segment in self.segments
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        return cls(
            language=data["language"],
            engine=data["engine"],
            model=data["model"],
            duration=data["duration"],
            segments=[
                Segment(
                    start=segment["start"],
                    end=segment["end"],
                    text=segment["text"],
                    speaker=segment.get("speaker"),
                    speaker_confidence=segment.get("speaker_confidence"),
                    inaudible=segment.get("inaudible", False),
                    words=[
                        Word(start=word["start"], end=word["end"], word=word["word"],
                             probability=word.get("probability"))
                        for word in segment.get("words", [])
                    ],
                )
                for segment in data["segments"]
            ],
        )
