"""Cases the seed corpus does not hold, and transcripts built from turns, for the classifier tests."""

from __future__ import annotations

from rating.classifier_corpus import Ipaf

# The issue's own example, absent from the seed corpus.
AFTERTHOUGHT = Ipaf(
    self_representation="an unimportant afterthought",
    other_representation="dismissive, exploitative",
    affect="hopelessness, resentment",
    summary=(
        "She feels she is an afterthought at work and at home: her manager and her partner brush her aside "
        "and make use of her, and she is left resentful and hopeless that anything will change."
    ),
)
AFTERTHOUGHT_ECHOES = [
    "So once again you were the last thing on his mind, and you were left fuming.",
    "It sounds like your manager took the credit and then forgot you existed.",
    "There's that sense that nothing will ever change, and the bitterness underneath.",
    "You felt like an afterthought at your sister's birthday.",
    "It's as if people only want you for what you can do for them.",
    "That's the pattern: you're treated as if you don't matter, and you end up resentful and hopeless.",
]
AFTERTHOUGHT_LINK = "I wonder if you're expecting me to brush you aside too, the way your manager does."

# Written after the classifier's lexicon was settled, in words it mostly does not list ("disappointment",
# "cold", "withholding"), to see how it does on an IPAF put in other words.
DISAPPOINTMENT = Ipaf(
    self_representation="a disappointment to everyone",
    other_representation="cold, withholding",
    affect="sadness, despair",
    summary=(
        "He feels that he always disappoints: his father, and now his partner and his boss, keep their "
        "warmth and approval to themselves, and he sinks into sadness and despair of ever pleasing them."
    ),
)
DISAPPOINTMENT_ECHOES = [
    "There's that feeling of being a disappointment, even when you've done well.",
    "It sounds like your father kept his warmth to himself, and you were left hungry for it.",
    "The despair seems to come when nobody shows they're pleased with you.",
    "You felt you'd disappointed your partner by not getting the job.",
    "So once again you got a cold reception and sank into sadness.",
    "Perhaps you expect me to be disappointed in you too, like your father was.",
    "When I didn't say anything about your news, maybe it felt like I was withholding too, the way your mother did.",
]
GENERIC = [
    "What did you do on Sunday?",
    "That sounds like a busy week.",
    "How long have you worked there?",
    "Could you say a bit more about that?",
    "Have you been sleeping any better?",
    "It sounds like the new kitchen is nearly finished.",
    "Let's book your next appointment.",
    "I'll be away next Thursday.",
    "How was the journey here?",
    "You seem a little distracted with me today.",
]
RELATIONSHIP_ONLY = [
    "you seem annoyed with me",
    "How is it for you, sitting here with me today?",
    "You looked at the clock when I said that.",
]

PATIENT_LINES = [
    "I don't know, it was just a normal week really.",
    "Yeah. I suppose so.",
    "He didn't even look up when I came in.",
    "I went to my mum's on Saturday.",
    "It's hard to say.",
]


def transcript(turns: list[tuple[str | None, str]], seconds: float = 5.0) -> dict:
    """A transcript in the stored JSON form, one segment of `seconds` per (speaker, text) turn."""
    return {
        "language": "en",
        "engine": "faster-whisper",
        "model": "tiny.en",
        "duration": seconds * len(turns),
        "segments": [
            {"start": seconds * i, "end": seconds * (i + 1), "speaker": speaker, "text": text, "words": []}
            for i, (speaker, text) in enumerate(turns)
        ],
    }


def dialogue(therapist_lines: list[str]) -> dict:
    """Therapist lines, each answered by the patient."""
    turns = []
    for i, line in enumerate(therapist_lines):
        turns += [("therapist", line), ("patient", PATIENT_LINES[i % len(PATIENT_LINES)])]
    return transcript(turns)
