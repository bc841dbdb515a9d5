"""A long, varied therapy dialogue for the diarisation benchmark: the therapist asking and
reflecting briefly, the patient telling at length, drawn from phrases at random (seeded)."""

from __future__ import annotations

import random

from speechfixtures.dialogue import PATIENT, THERAPIST

_OPENERS = ["", "Well, ", "I think ", "Honestly, ", "To be fair, ", "I suppose ", "You know, "]
_PEOPLE = ["my sister", "my partner", "my mother", "my manager", "my best friend", "my father", "my brother"]
_EVENTS = [
    "cancelled our plans at the last minute",
    "did not reply to my messages for three days",
    "made a joke about me in front of everyone",
    "forgot my birthday again",
    "told me I was overreacting",
    "asked me to cover for them at work",
    "criticised the way I handled the children",
]
_FEELINGS = [
    "I felt invisible, as if I did not matter at all",
    "I was furious, but I did not say anything",
    "I went quiet and pretended that it was fine",
    "I felt ashamed, and I could not sleep that night",
    "I wanted to shout, and then I felt guilty for wanting to",
    "I just felt tired and alone",
]
_LINKS = [
    "It reminds me of how things were when I was a child.",
    "It keeps happening, and I never know what to do about it.",
    "I always end up apologising, even when it is not my fault.",
    "Afterwards I kept going over it in my head for days.",
    "I know it sounds small, but it stayed with me all week.",
]
_QUESTIONS = [
    "What happened then?",
    "How did you feel when {who} {event}?",
    "What do you make of that?",
    "Is that a familiar feeling?",
    "What did you want to say to {who}?",
    "What do you imagine {who} was thinking?",
    "How did that leave you feeling about yourself?",
    "Can you say more about that?",
    "When have you felt like that before?",
    "What stopped you from telling {who}?",
]
_REFLECTIONS = [
    "It sounds as if you protect the relationship by hiding what you need.",
    "So part of you was angry, and part of you wanted to keep the peace.",
    "I notice you smile when you talk about being hurt.",
    "That sounds painful.",
    "You seem to expect that asking for something will push people away.",
]


# espeak-ng's pace with these voices and 0.3 s pauses between lines, measured.
WORDS_PER_SECOND = 3.6


def long_script(seconds: float, seed: int = 7) -> list[tuple[str, str]]:
    """A varied therapy dialogue of roughly `seconds`, the therapist asking and reflecting briefly,
    the patient telling at length."""
    rng = random.Random(seed)
    script: list[tuple[str, str]] = []
    words = 0.0
    while words / WORDS_PER_SECOND < seconds:
        who, event = rng.choice(_PEOPLE), rng.choice(_EVENTS)
        if rng.random() < 0.3:
            therapist = rng.choice(_REFLECTIONS) + " " + rng.choice(_QUESTIONS)
        else:
            therapist = rng.choice(_QUESTIONS)
        therapist = therapist.format(who=who, event=event)
        patient = (f"{rng.choice(_OPENERS)}{who} {event}, and {rng.choice(_FEELINGS)}. "
                   f"{rng.choice(_LINKS)}").strip()
        patient = patient[0].upper() + patient[1:]
        script += [(THERAPIST, therapist), (PATIENT, patient)]
        words += len(therapist.split()) + len(patient.split()) + 2
    return script
