"""Features of a (therapist utterance, IPAF) pair, as scikit-learn transformers.

The classifier has to work on cases it has never seen, so it cannot learn a case's words: it learns
how closely an utterance echoes *this* case's IPAF (its self, other and affect, and the summary), and
whether the utterance speaks about the relationship with the therapist in the here and now. An echo
is measured three ways, each catching what the others miss: shared word stems (the patient's own
words), shared concepts from a small paraphrase lexicon ("brush you aside" echoes "dismissive") and
character n-gram similarity (inflections and compounds the stemmer does not join).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

IPAF_PARTS = ("self", "other", "affect")
PAIR_COLUMNS = ("utterance", "ipaf_self", "ipaf_other", "ipaf_affect", "ipaf_summary")

# Paraphrase lexicon: each concept lists the ways therapists and patients commonly put it. The entries
# are general clinical and everyday English, not any one case's words, so that an IPAF written in other
# words still finds its paraphrases. Entries are stemmed like the text, so one form covers its
# inflections ("dismiss" covers "dismissed", "dismissing").
CONCEPTS: dict[str, tuple[str, ...]] = {
    # Representations of the self and of others.
    "burden": ("burden", "burdensome", "too much", "a nuisance", "nuisance", "imposition", "impose", "weight on",
               "weigh down", "weighed down", "a drain", "a bother", "trouble people", "troublesome", "ask too much",
               "asked too much", "asking too much", "put upon", "a lot to ask", "put up with"),
    "unimportant": ("unimportant", "afterthought", "not important", "don't matter", "does not matter", "do not matter",
                    "doesn't count", "not count", "insignificant", "priority", "second best", "second fiddle",
                    "came second", "come second", "comes second", "second to", "came first", "comes first",
                    "come first", "left till last", "last in line", "last thing on", "bottom of the list", "overlooked",
                    "overlook", "passed over", "forgotten", "forget", "forgettable", "invisible", "unnoticed",
                    "not noticed", "nobody sees", "nobody notices", "one of many", "the spare one", "first choice",
                    "chosen", "taken for granted", "take for granted", "slip out of my mind"),
    "dismissive": ("dismissive", "dismiss", "brush aside", "brush you aside", "brushed aside", "brush off",
                   "brush you off", "wave away", "waved away", "ignore", "ignored", "not interested", "not listening",
                   "shut down", "sideline", "sidelined", "cut off", "cut you off", "not take seriously",
                   "take you seriously", "push aside", "pushed aside", "fob off", "belittle", "belittled"),
    "exploitative": ("exploit", "exploitative", "exploited", "take the credit", "took the credit", "use you",
                     "used you", "using you", "feel used", "felt used", "being used", "use me", "taking advantage",
                     "take advantage", "advantage", "take and take", "take without", "taking without",
                     "take what they want", "ungrateful", "thankless", "say thank you", "said thank you", "thanked",
                     "give back", "doormat", "walk all over", "milk", "useful", "cash machine", "scraps", "only want",
                     "what you give", "what you bring", "a mug", "soft touch"),
    "rejecting": ("reject", "rejecting", "rejection", "turn away", "turn you away", "turned away", "push away",
                  "push you away", "shut out", "go cold", "went cold", "withdraw love", "love withdrawn",
                  "lose interest", "lost interest", "had enough", "tired of you", "sent away", "send away",
                  "show you the door", "showing you the door", "drop you", "dropped", "cold shoulder", "spurn",
                  "pull back", "pulled back", "think less of"),
    "abandoning": ("abandon", "abandoning", "abandoned", "abandonment", "leave you", "leaves you", "left you",
                   "leaving you", "be left", "left alone", "left behind", "walk out", "walked out", "people leave",
                   "walk away", "walked away", "disappear", "vanish", "vanished", "desert", "deserted", "unreliable",
                   "not stay", "don't stay", "people go", "gone for good", "let go", "let you go", "let down",
                   "letting you go", "easy to leave", "be dropped", "be here next week", "turn up"),
    "excluding": ("outsider", "outside", "on the outside", "not belong", "don't belong", "belong", "left out",
                  "exclude", "excluding", "excluded", "cliquey", "clique", "odd one out", "fit in", "club",
                  "close ranks", "closed group", "let in", "let you in", "shut out", "on the wrong side"),
    "unheard": ("unheard", "not heard", "voice", "no voice", "not listened", "listened to", "not listening",
                "nobody listens", "no one listens", "really listening", "silenced", "drowned out", "talk over",
                "talking over", "talked over", "speak over", "spoke over", "no say", "words count", "words matter",
                "words disappear", "go silent", "went silent", "fall silent", "ignored", "what you think",
                "what you thought", "what you want"),
    "dominating": ("dominate", "dominating", "domineering", "overbearing", "loud", "louder", "steamroller",
                   "steamrollered", "bulldoze", "take over", "talk over", "talking over", "in charge", "run things",
                   "decide for", "decides for", "decided for", "decide what"),
    "controlling": ("control", "controlling", "intrusive", "intrude", "intrusion", "prying", "pry", "nosy",
                    "checking up", "check up", "keep tabs", "keeping tabs", "feel watched", "being watched",
                    "watching you", "interfere", "rules", "imposed", "imposing", "tell you what to do",
                    "read your diary", "reading your diary", "no privacy", "private", "hemmed in", "cornered",
                    "decide for", "decided for", "decide what", "decided what", "in charge", "running things"),
    "powerless": ("powerless", "helpless", "helplessness", "trapped", "stuck", "cornered", "no choice", "no say",
                  "no control", "hemmed in", "give in", "gave in", "giving in", "go along with", "went along with",
                  "can't do anything", "nothing you can do", "boxed in"),
    "critical": ("critical", "criticise", "criticism", "criticised", "judge", "judging", "judgement", "judgemental",
                 "find fault", "fault-finding", "mark you down", "mark down", "grading", "grade", "examiner", "verdict",
                 "disapprove", "disapproving", "telling-off", "telling off", "red pen", "scrutinise", "scrutinising",
                 "scrutiny", "catch you out", "catch out", "demanding", "exacting", "harsh", "report card",
                 "school report", "find you wanting", "look for faults", "looking for faults"),
    "inadequate": ("failure", "fail", "failing", "not good enough", "good enough", "measure up", "measuring up",
                   "measures up", "inadequate", "inadequacy", "fall short", "falling short", "useless", "not coping",
                   "not enough", "mistake", "not up to it", "found wanting", "incompetent"),
    "exposed": ("fraud", "impostor", "imposter", "found out", "exposed", "exposure", "see through", "seen through",
                "fooled them", "unmasked", "caught out"),
    "conditional": ("perfect", "perfection", "perfectly", "flawless", "flawlessly", "impress", "impressive", "approval",
                    "approve", "achievement", "achieve", "perform", "performing", "conditional", "earn",
                    "prove yourself", "only when", "only if", "good patient", "lit up", "praise"),
    "fragile": ("fragile", "easily hurt", "can't take", "couldn't take", "fall apart", "falling apart", "collapse",
                "delicate", "made of glass", "glass", "break down", "broken", "vulnerable", "needy", "unable to cope",
                "can't cope without", "not coping", "worn out", "damaged"),
    "damaging": ("damage", "damaging", "do harm", "cause harm", "harm them", "harm people", "harmful", "dangerous",
                 "destructive", "bad person", "bad inside", "toxic", "bull in a china shop", "do damage",
                 "break something", "hurt them", "hurt someone", "hurt me", "wear out", "worn me out", "upset me",
                 "upsetting me", "too much for"),
    "caretaking": ("look after", "looking after", "looked after", "carer", "caring for", "strong one", "the strong one",
                   "hold everyone up", "holding everyone up", "carry", "carrying", "rescue", "responsible", "protect",
                   "protecting", "the only adult", "dropped everything", "drop everything", "cope for",
                   "keep everyone going"),
    "mocked": ("stupid", "idiot", "daft", "fool", "foolish", "made a fool", "laughable", "joke", "a joke", "ridiculous",
               "laugh at", "laughing at", "laughed at", "mock", "mocking", "mocked", "sneer", "ridicule", "ridiculed",
               "contempt", "contemptuous", "look down", "looking down", "looked down", "belittle", "figure of fun",
               "clown", "smirk", "show you up", "showing you up"),
    "dependent": ("weak", "helpless", "child", "childlike", "little girl", "little boy", "small one", "baby",
                  "can't manage", "can't cope", "cope alone", "cope on your own", "manage alone", "manage without",
                  "dependent", "depend", "lean on", "cling", "clinging", "clingy", "rely on", "tell you what to do",
                  "expert", "lost without", "managing without", "cope without", "without me"),
    "protective": ("strong", "protect", "protective", "protector", "look after", "looked after", "take care of",
                   "make everything safe", "made everything safe", "keep you safe", "guidance", "rescue",
                   "someone strong"),
    "gullible": ("gullible", "fooled", "taken in", "soft touch", "mug", "naive", "cheated", "conned", "con", "played",
                 "trust", "trusting", "trusted", "fool for", "feel a fool", "be had"),
    "betraying": ("betray", "betrayal", "betrayed", "betraying", "let down", "let you down", "deceive", "deceived",
                  "cheat", "cheated", "untrustworthy", "can't be trusted", "broken promise", "broke promises",
                  "broke one promise", "promise", "promises", "lied to", "lie to", "lying to", "double-cross",
                  "use against", "against you", "genuine", "not genuine", "draw you in"),
    "blamed": ("blame", "blamed", "to blame", "fault", "your fault", "my fault", "in the wrong", "done something wrong",
               "did something wrong", "accuse", "accusing", "accused", "accusation", "punish", "punished", "punishment",
               "punitive", "tell you off", "told off", "telling-off", "in trouble", "in the dock", "sentencing",
               "criminal", "found guilty", "verdict"),
    "unwanted": ("unwanted", "not wanted", "no one wants", "nobody wants", "wants you around", "intrude", "intruder",
                 "intruding", "in the way", "imposing", "impose", "unwelcome", "welcome", "take up space",
                 "taking up space", "taking up my time", "permission to exist", "guest", "lodger", "show you the door",
                 "showing you the door", "rather you weren't there", "rather be doing something else"),
    "irritated": ("irritated", "irritable", "irritation", "annoyed", "annoyance", "impatient", "impatience",
                  "lose patience", "losing patience", "lost patience", "exasperated", "fed up", "tired of",
                  "had enough", "sigh", "sighed", "snappy"),
    "favouring": ("favour", "favouring", "favourite", "favoured", "prefer", "preferring", "preferred", "rather be with",
                  "others first", "someone else first", "came first", "golden child", "absorbed", "preoccupied",
                  "busy with", "taken up with", "more interested in"),
    # Affects.
    "shame": ("shame", "ashamed", "shameful", "embarrassed", "embarrassment", "mortified", "humiliated", "humiliation",
              "self-conscious", "make yourself small", "made yourself small", "shrink", "shrank"),
    "fear": ("fear", "afraid", "frightened", "frightening", "scared", "terrified", "dread", "dreading", "anxiety",
             "anxious", "worry", "worried", "worrying", "nervous", "panic", "panicky", "bracing", "brace yourself",
             "on edge", "apprehensive"),
    "anger": ("anger", "angry", "rage", "furious", "fury", "seething", "livid", "hostile", "raging", "scream"),
    "resentment": ("resent", "resentment", "resentful", "bitter", "bitterness", "grudge", "aggrieved", "hard done by"),
    "frustration": ("frustration", "frustrated", "frustrating", "thwarted"),
    "sadness": ("sad", "sadness", "grief", "grieve", "sorrow", "tearful", "heartbroken", "ache", "feel low",
                "feeling low", "felt low"),
    "hurt": ("hurt", "hurtful", "wounded", "stung", "pain", "painful"),
    "hopelessness": ("hopeless", "hopelessness", "pointless", "no point", "give up", "gave up", "giving up", "despair",
                     "futile", "resigned", "what's the use", "defeated", "why bother", "nothing will change",
                     "won't change anything", "change anything"),
    "loneliness": ("lonely", "loneliness", "alone", "isolated", "isolation", "on your own", "by yourself",
                   "nobody there"),
    "envy": ("envy", "envious", "jealous", "jealousy"),
    "guilt": ("guilt", "guilty", "apologise", "apology", "say sorry", "said sorry", "saying sorry", "your fault",
              "feel bad"),
    "emptiness": ("empty", "emptiness", "hollow", "numb", "feel flat", "felt flat", "looked flat", "nothing inside",
                  "fill you up"),
    "exhaustion": ("exhausted", "exhaustion", "worn out", "tired", "drained", "weary", "knackered"),
    "suspicion": ("suspicion", "suspicious", "suspect", "distrust", "mistrust", "wary", "guarded", "sceptical",
                  "checking whether", "check whether", "on guard"),
    "longing": ("longing", "long for", "yearn", "yearning", "wish someone", "wished i could",
                "want to be looked after"),
    "withdrawal": ("withdraw", "withdrawal", "withdrawn", "withdrawing", "hide", "hiding", "hide away", "hiding away",
                   "retreat", "go quiet", "went quiet", "keep to yourself", "kept it to yourself", "keep to your room",
                   "stay in your room", "stayed in your room", "pull back", "keep your distance", "at a distance",
                   "arm's length", "keep away", "shut yourself away", "shrink back"),
}

HERE_AND_NOW = {
    # The patient's experience of the therapist: "me" as object, "I" as what the patient expects of me.
    "relationship": (
        r"\b(with|towards?|about|of|from|for|on|at|by|to) me\b",
        r"\bme (too|as well|either|included)\b",
        (r"\b(expect|expecting|want|wanting|need|needing|wish|wishing|imagine|imagining|fear|fearing|trust|"
        r"believe|waiting for|wait for|worry|worried|assume|assumed) (that )?(me|i)\b"),
        (r"\byou (\w+ ){0,4}(that |if )?i (am|will|would|might|may|could|was|have|had|do|did|do not|did not|"
        r"find|think|feel|see|want|care|favour|prefer|judge|grade|use|leave|go|forget)\b"),
        r"\b(between us|you and i|the two of us|our (sessions?|work|time|relationship|ending|meetings?|hour))\b",
        (r"\b(here with me|with me here|my (holiday|break|leave|notes|questions?|comments?|silence|absence|"
        r"lateness|other patients|room|time|face|approval|attention|warmth|interest|love))\b"),
        r"\b(when|after|as soon as|the moment) i (?!wonder|think|mean)\w+",
        r"\b(as if|as though|like) i (am|was|were|had|would|might|will)\b",
        r"\bi (am|was|have|had|would|will|might)( \w+){0,2} (you|your)\b(?<!like you)(?<!like your)",
        (r"\b(i|i'd|i would|i will|i might) (think less of|judge|find|lose|go cold|leave|let you|forget|drop|"
        r"turn you|send you|mark you|see through|mock|sneer|laugh)\b"),
    ),
    # Now and here rather than there and then.
    "now": (
        (r"\b(right now|just now|at the moment|in this moment|here and now|today|this morning|this afternoon|"
        r"a moment ago|as we (speak|talk|sit here)|in here|in this room|in the room|even here|here too|"
        r"here as well|with us)\b"),
    ),
    # The frame of the therapy, the usual occasions of transference: lateness, breaks, the ending.
    "frame": (
        (r"\b(late|lateness|cancel\w*|holiday|break|away|ending|end|finish\w*|last session|sessions? (left|to go)|"
        r"goodbye|letter|waiting list|therapy|session|stop(ping)? (early|there))\b"),
    ),
    # Phrases that tie what is said to a pattern or to another relationship.
    "comparison": (
        r"\btoo\b(?! (much|many|little|late|long|far|well))",
        (r"\b(as well|either|again|the same|just like|just as|familiar|old (feeling|fear|pattern|sense)|"
        r"pattern|the focus|our focus)\b"),
        r"\b(the way|like|as) (your|you do|he did|she did|they did|the others|everyone|people|others|with your)\b",
    ),
}

_CONTRACTIONS = (
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'ll\b", " will"), (r"'d\b", " would"), (r"'m\b", " am"),
    (r"'ve\b", " have"), (r"\bcan not\b", "cannot"), (r"\bwo not\b", "will not"), (r"'s\b", ""),
)
_WORD = re.compile(r"[a-z]+")
_CUE_WORD = re.compile(r"[a-z']+")
_MAX_PHRASE = 6

FEATURE_NAMES = (
    *(f"{part}_{kind}" for part in IPAF_PARTS for kind in ("concepts", "stems", "chars")),
    "summary_concepts", "summary_stems", "summary_chars",
    "echo", "parts_echoed", "concepts_matched", "concepts_in_utterance",
    *(f"cue_{name}" for name in HERE_AND_NOW),
    "relationship_x_echo", "relationship_x_other", "relationship_x_self", "relationship_x_affect",
    "relationship_x_summary", "relationship_x_comparison", "now_x_echo", "frame_x_echo", "comparison_x_echo",
    "n_words",
)


def normalise(text: str) -> str:
    """Lower case, straight apostrophes and contractions spelled out, so "you're" and "you are" match."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return text


# Memoised (it is a pure function) because the same words come back in every row.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light suffix stripper: it only has to map a word and its inflections to the same string, the
    same way for the lexicon and for the text, not to find linguistic roots."""
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    if len(word) > 2 and word.endswith("e"):
        word = word[:-1]
    return word


_SUFFIXES = (
    ("ations", "ate"), ("ation", "ate"), ("iveness", ""), ("fulness", ""), ("ousness", ""), ("nesses", ""),
    ("ness", ""), ("ments", ""), ("ment", ""), ("ingly", ""), ("edly", ""), ("ively", ""), ("fully", ""),
    ("ously", ""), ("ience", "ient"), ("ing", ""), ("ied", "i"), ("ies", "i"), ("ches", "ch"), ("shes", "sh"),
    ("sses", "ss"), ("xes", "x"), ("ed", ""), ("ive", ""), ("ful", ""), ("ous", ""), ("ion", ""), ("ly", ""),
    ("y", "i"), ("s", ""),
)


def stems(text: str) -> list[str]:
    return [stem(word) for word in _WORD.findall(normalise(text))]


# Intensifiers dropped before phrases are matched, so "don't really count" is "do not count".
_FILLERS = frozenset(stem(word) for word in ("really", "just", "quite", "even", "actually", "ever", "very", "truly",
                                                "simply", "somehow", "always", "all"))
_STOP_STEMS = frozenset(stem(word) for word in ENGLISH_STOP_WORDS) | {"would", "not", "feel", "felt", "seem", "sound"}


def _phrase_index() -> dict[tuple[str, ...], frozenset[str]]:
    """Stemmed lexicon phrase -> the concepts it stands for (a phrase may belong to several)."""
    index: dict[tuple[str, ...], set[str]] = {}
    for concept, phrases in CONCEPTS.items():
        for phrase in phrases:
            index.setdefault(tuple(stems(phrase)), set()).add(concept)
    return {phrase: frozenset(concepts) for phrase, concepts in index.items()}


_PHRASES = _phrase_index()


def concepts(text: str) -> frozenset[str]:
    """The lexicon concepts a text expresses."""
    words = [word for word in stems(text) if word not in _FILLERS]
    found: set[str] = set()
    for start in range(len(words)):
        for length in range(1, min(_MAX_PHRASE, len(words) - start) + 1):
            found.update(_PHRASES.get(tuple(words[start : start + length]), ()))
    return frozenset(found)


def content_stems(text: str) -> frozenset[str]:
    return frozenset(word for word in stems(text) if word not in _STOP_STEMS and len(word) > 2)


_CUES = {
    name: re.compile("|".join(f"(?:{pattern})" for pattern in patterns)) for name, patterns in HERE_AND_NOW.items()
}


# Memoised (a pure function; callers only read the counts): the lexical and the meaning features both ask
# for every utterance's cues.
@lru_cache(maxsize=1 << 16)
def cue_counts(text: str) -> dict[str, int]:
    # Punctuation is dropped so that "imposed on you, and I'm the one" reads as one run of words.
    text = " ".join(_CUE_WORD.findall(normalise(text)))
    return {name: len(pattern.findall(text)) for name, pattern in _CUES.items()}


@dataclass(frozen=True)
class _Analysed:
    concepts: frozenset[str]
    stems: frozenset[str]


# Memoised (a pure function) because a case's IPAF parts come back in every row.
@lru_cache(maxsize=1 << 12)
def _analyse(text: str) -> _Analysed:
    return _Analysed(concepts(text), content_stems(text))


def echoes(utterance: str, parts: tuple[str, ...]) -> bool:
    """Whether the utterance shares a concept or a content word with any of the given IPAF parts."""
    said = _analyse(utterance)
    return any(said.concepts & _analyse(part).concepts or said.stems & _analyse(part).stems for part in parts)


def _recall(part: frozenset[str], utterance: frozenset[str]) -> float:
    """How much of an IPAF part the utterance echoes: a part of two ideas echoed by one is half echoed."""
    return len(part & utterance) / len(part) if part else 0.0


def _capped(counts: list[int], cap: int) -> np.ndarray:
    return np.minimum(counts, cap).astype(float)


def _rowwise_cosine(a, b) -> np.ndarray:
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def pairs_frame(utterances, ipafs) -> pd.DataFrame:
    """The model's input: one row per (utterance, IPAF) pair. `ipafs` is one IPAF for all utterances or
    one per utterance; an IPAF is anything with self_representation, other_representation, affect and
    summary attributes."""
    utterances = list(utterances)
    ipafs = list(ipafs) if isinstance(ipafs, (list, tuple)) else [ipafs] * len(utterances)
    return pd.DataFrame(
        {
            "utterance": utterances,
            "ipaf_self": [ipaf.self_representation for ipaf in ipafs],
            "ipaf_other": [ipaf.other_representation for ipaf in ipafs],
            "ipaf_affect": [ipaf.affect for ipaf in ipafs],
            "ipaf_summary": [ipaf.summary for ipaf in ipafs],
        },
        columns=list(PAIR_COLUMNS),
    )


class IpafEcho(TransformerMixin, BaseEstimator):
    """(utterance, IPAF) pairs -> how closely the utterance echoes each IPAF part, the here-and-now cues,
    and their products: a link to the transference needs a cue about the relationship *and* an echo of
    the IPAF, which a linear model can only express through the product."""

    def __init__(self, char_ngrams: tuple[int, int] = (3, 5)):
        self.char_ngrams = char_ngrams

    def fit(self, X: pd.DataFrame, y=None):
        texts = pd.concat([X[column] for column in PAIR_COLUMNS], ignore_index=True).drop_duplicates()
        self.char_tfidf_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True, min_df=2, preprocessor=normalise
        ).fit(texts)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        utterances = X["utterance"].tolist()
        said = [_analyse(text) for text in utterances]
        cues = [cue_counts(text) for text in utterances]
        utterance_chars = self.char_tfidf_.transform(utterances)
        columns: dict[str, np.ndarray] = {}
        ipaf: dict[str, list[_Analysed]] = {}
        for part in (*IPAF_PARTS, "summary"):
            texts = X[f"ipaf_{part}"].tolist()
            ipaf[part] = [_analyse(text) for text in texts]
            # A transcript has one IPAF for all its segments: vectorise each distinct text once.
            unique = list(dict.fromkeys(texts))
            position = {text: i for i, text in enumerate(unique)}
            part_chars = self.char_tfidf_.transform(unique)[[position[text] for text in texts]]
            columns[f"{part}_chars"] = _rowwise_cosine(utterance_chars, part_chars)
        for part in IPAF_PARTS:
            pairs = list(zip(said, ipaf[part], strict=True))
            columns[f"{part}_concepts"] = np.array([_recall(p.concepts, u.concepts) for u, p in pairs])
            columns[f"{part}_stems"] = np.array([_recall(p.stems, u.stems) for u, p in pairs])
        # The summary is long and names many things, the people in the patient's life among them: one
        # shared word ("your partner") says little, several say the utterance draws on it.
        pairs = list(zip(said, ipaf["summary"], strict=True))
        columns["summary_concepts"] = _capped([len(u.concepts & p.concepts) for u, p in pairs], 3)
        columns["summary_stems"] = _capped([len(u.stems & p.stems) for u, p in pairs], 3)

        per_part = {part: np.maximum(columns[f"{part}_concepts"], columns[f"{part}_stems"]) for part in IPAF_PARTS}
        columns["echo"] = np.maximum.reduce(list(per_part.values()))
        # The products use whether a part is echoed at all: one idea of a two-idea part ("brush you aside"
        # for "dismissive, exploitative") makes as much of a link as a one-idea part echoed whole.
        echoed = {part: (value > 0).astype(float) for part, value in per_part.items()}
        any_echo = np.maximum.reduce(list(echoed.values()))
        columns["parts_echoed"] = sum(echoed.values())
        columns["concepts_matched"] = _capped(
            [len(u.concepts & (s.concepts | o.concepts | a.concepts))
             for u, s, o, a in zip(said, ipaf["self"], ipaf["other"], ipaf["affect"], strict=True)], 3
        )
        columns["concepts_in_utterance"] = _capped([len(u.concepts) for u in said], 4)
        for name in HERE_AND_NOW:
            columns[f"cue_{name}"] = _capped([cue[name] for cue in cues], 3)
        relationship = np.minimum(columns["cue_relationship"], 1.0)
        comparison = np.minimum(columns["cue_comparison"], 1.0)
        columns["relationship_x_echo"] = relationship * any_echo
        columns["relationship_x_other"] = relationship * echoed["other"]
        columns["relationship_x_self"] = relationship * echoed["self"]
        columns["relationship_x_affect"] = relationship * echoed["affect"]
        columns["relationship_x_summary"] = relationship * (columns["summary_concepts"] > 0)
        columns["relationship_x_comparison"] = relationship * comparison
        columns["now_x_echo"] = np.minimum(columns["cue_now"], 1.0) * any_echo
        columns["frame_x_echo"] = np.minimum(columns["cue_frame"], 1.0) * any_echo
        columns["comparison_x_echo"] = comparison * any_echo
        columns["n_words"] = np.log1p([len(_WORD.findall(text)) for text in utterances])
        return np.column_stack([columns[name] for name in FEATURE_NAMES])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(FEATURE_NAMES, dtype=object)
