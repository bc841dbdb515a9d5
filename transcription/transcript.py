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


@dataclass(frozen=True)
class Edited:
    """A line a person corrected (its text, or by merging or splitting lines): who, when, and what
    the recogniser had heard there, which stays retrievable."""

    recognised: str
    # None where the reader may not see who it was (server/access.py).
    by: str | None
    at: str

    def to_dict(self) -> dict:
        return {"recognised": self.recognised, "by": self.by, "at": self.at}


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
    edited: Edited | None = None
    # This line and the next were one line until a change of speaker split them: given one speaker
    # again, they are one line again (transcription/roles/corrections.py).
    joins_next: bool = False


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
                    "edited": None if segment.edited is None else segment.edited.to_dict(),
                    "joins_next": segment.joins_next,
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
                    edited=Edited(**segment["edited"]) if segment.get("edited") else None,
                    joins_next=segment.get("joins_next", False),
                    words=[
                        Word(start=word["start"], end=word["end"], word=word["word"],
                             probability=word.get("probability"))
                        for word in segment.get("words", [])
                    ],
                )
                for segment in data["segments"]
            ],
        )


def line_map(before: list[Segment], after: list[Segment]) -> dict[int, list[int]]:
    """Where each line of `before` went in `after` (the same transcript once lines were merged, split
    or given another speaker): the lines of `after` that share at least half of the shorter one's time.
    References to lines by number (a rating's evidence) follow their lines with it."""
    moved: dict[int, list[int]] = {}
    j0 = 0
    for i, old in enumerate(before):
        while j0 < len(after) and after[j0].end <= old.start:
            j0 += 1
        found = []
        for j in range(j0, len(after)):
            new = after[j]
            if new.start >= old.end and new.start > old.start:
                break
            shared = min(old.end, new.end) - max(old.start, new.start)
            if shared >= 0.5 * min(old.end - old.start, new.end - new.start):
                found.append(j)
        moved[i] = found
    return moved
