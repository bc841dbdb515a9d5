"""How diarisation is tuned: frozen options, one dataclass per step, with the measurements behind
their defaults. Every step takes its options as an argument, so two callers can diarise
differently in one process and nothing is set globally."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpeechRegionOptions:
    """Speech finding. Shorter pauses than faster-whisper's own VAD settings (2 s of silence to end
    a region), because a pause is where one speaker most often hands over to the other."""

    min_silence_s: float = 0.25
    pad_s: float = 0.05
    min_speech_s: float = 0.1


@dataclass(frozen=True)
class WindowOptions:
    """Sliding windows for speaker embeddings: 1.5 s is about what the encoder was trained on (1.6 s
    partial utterances); a step of a third of that lets a change of speaker be placed to within
    about a quarter of a second. A stretch of speech shorter than a window is embedded on its own,
    down to `min_length_s`; shorter ones take the speaker of what is around them."""

    length_s: float = 1.5
    step_s: float = 0.5
    min_length_s: float = 0.4
    # Shorter windows that vote beside the full ones but take no part in finding the speakers: a reply
    # shorter than a full window ("what's the username?", 0.64 s straight after the other man's sentence
    # in AMI dev01) is outvoted by the windows it shares with its neighbour, and has windows mostly its own
    # at this length. On the real recordings, speech given to the wrong speaker fell from 1.10 to 0.83 s on
    # the telephone call and from 0.22 to 0 on dev01, with 0.4 s flips kept (TurnOptions.min_flip_s); on
    # their own, windows this short cluster badly (dev00's error 0.39). 0: full windows only.
    short_length_s: float = 0.75
    short_step_s: float = 0.25


@dataclass(frozen=True)
class ClusterOptions:
    """Estimating the number of speakers (n_speakers=None): more than one when clustering into two
    or three separates the windows with at least `min_silhouette` (cosine). Measured: distinct
    espeak-ng voices 0.30 to 0.57, two real people (a LibriVox reader, JFK) 0.55; one voice split in
    two 0.13 to 0.22."""

    max_speakers: int = 3
    min_silhouette: float = 0.25
    min_cluster_share: float = 0.05
    # Below this many full windows (about 10 s of speech), a recording is taken for one voice.
    min_windows_to_count: int = 20
    # Agglomerative clustering and the silhouette hold a distance for every pair of windows (a 3-hour session
    # has some 14,000: 1.5 GB): past this many, they see this many spread evenly over the recording, and the
    # rest join their nearest centre.
    max_windows: int = 2000


@dataclass(frozen=True)
class TurnOptions:
    """How labels on the frame grid become turns."""

    # The time grid on which votes are counted and turns are cut.
    frame_s: float = 0.02
    # A run of one speaker shorter than this, in the middle of another's speech without a pause on
    # either side, is taken for a misheard window rather than a turn. Short windows
    # (WindowOptions.short_length_s) give a run of 0.4 s votes of its own.
    min_flip_s: float = 0.4
    # How sharply a window's similarity to each speaker's centre becomes a vote (softmax temperature).
    vote_temperature: float = 0.05
    # How far a change of speaker found by voice may be moved to a pause.
    snap_s: float = 0.5
    # A pause shorter than this between two stretches of one speaker's speech, with nobody else speaking,
    # is part of their turn (someone thinking mid-sentence still holds the floor), as references count it.
    # On two real two-person meeting excerpts (AMI, speechfixtures.recorded.meetings) the error was 0.28 and
    # 0.14 with no bridging, 0.13 and 0.08 at 1 s and 0.049 and 0.082 at 2 s (dev00 has a 1.8 s pause inside
    # one man's turn), with no speech invented; the telephone conversation, whose turns are shorter, is the
    # same at all three (0.060). Before short windows found dev01's quick reply, bridging past 1 s joined the
    # turns either side of it and invented 0.44 s.
    bridge_s: float = 2.0


@dataclass(frozen=True)
class ChannelOptions:
    """Stereo: a recording carries one voice per channel when, in most of its speech, one channel
    is clearly the louder, and each channel is the louder for a fair share of it."""

    dominance_db: float = 6.0
    min_dominated_fraction: float = 0.7
    min_channel_share: float = 0.05


@dataclass(frozen=True)
class AlignOptions:
    """Splitting a transcript at changes of speaker: by how many words a change may be moved to
    the end of a sentence. One: on the real telephone conversation of the tests, two words moved changes
    past quick replies (line-level error 0.18 against 0.13: 1.37 s of speech given the wrong speaker
    against 0.53); on the scripted dialogues, whose turns end with their sentences, 0 to 3 are the same."""

    snap_words: int = 1


@dataclass(frozen=True)
class DiarisationOptions:
    """Every step's options, for the functions that run several steps (`diarise`, and
    `roles.label_speakers`, which also splits the transcript)."""

    speech: SpeechRegionOptions = field(default_factory=SpeechRegionOptions)
    windows: WindowOptions = field(default_factory=WindowOptions)
    clusters: ClusterOptions = field(default_factory=ClusterOptions)
    turns: TurnOptions = field(default_factory=TurnOptions)
    channels: ChannelOptions = field(default_factory=ChannelOptions)
    align: AlignOptions = field(default_factory=AlignOptions)
