"""Who spoke when: a recording into speaker turns, and a transcript's segments split at them.

A pipeline of steps, one module each, tuned by the frozen dataclasses of `options`:

- `speech`: where there is speech (Silero VAD, the ONNX model that faster-whisper ships);
- `channels`: a stereo recording with one voice on each channel is split by which channel is the
  louder, frame by frame;
- `voices`: any other recording is split by voice: speaker embeddings (`encoders`, with
  Resemblyzer's front end in `mel`) over sliding windows of the speech, clustered, and each
  stretch of speech given the speaker most windows vote for;
- `turns`: the frame grid both ways label, and the turns cut from it;
- `recording`: `diarise` and `diarise_file` choose between the two ways for each recording;
- `align`: `assign_speakers` gives each transcript segment its speaker, splitting a segment by
  its word timestamps wherever the speaker changes;
- `error_rate`: the diarisation error rate, to measure all this against reference turns.

Everything here is a plain function of arrays and dataclasses; nothing knows about the server.
"""

from transcription.diarize.align import assign_speakers, join_words, make_segment
from transcription.diarize.channels import ChannelCheck, channel_turns, check_channels, check_levels, diarise_channels
from transcription.diarize.encoders import (
    ResemblyzerEncoder,
    SpeakerEncoder,
    SpeechBrainEncoder,
    load_encoder,
    resemblyzer_weights,
)
from transcription.diarize.error_rate import DiarisationError, diarisation_error, diarisation_error_rate
from transcription.diarize.mel import mel_spectrogram
from transcription.diarize.options import (
    AlignOptions,
    ChannelOptions,
    ClusterOptions,
    DiarisationOptions,
    SpeechRegionOptions,
    TurnOptions,
    WindowOptions,
)
from transcription.diarize.recording import diarise, diarise_file, diarise_source
from transcription.diarize.speech import speech_regions
from transcription.diarize.turns import Diarisation, Turn, talk_time
from transcription.diarize.voices import cluster, diarise_voices, voice_turns, window_spans
from transcription.media import load_channels
from transcription.transcript import speaker_index, speaker_label

__all__ = [
    "AlignOptions",
    "ChannelCheck",
    "ChannelOptions",
    "ClusterOptions",
    "Diarisation",
    "DiarisationError",
    "DiarisationOptions",
    "ResemblyzerEncoder",
    "SpeakerEncoder",
    "SpeechBrainEncoder",
    "SpeechRegionOptions",
    "Turn",
    "TurnOptions",
    "WindowOptions",
    "assign_speakers",
    "channel_turns",
    "check_channels",
    "check_levels",
    "cluster",
    "diarisation_error",
    "diarisation_error_rate",
    "diarise",
    "diarise_channels",
    "diarise_file",
    "diarise_source",
    "diarise_voices",
    "join_words",
    "load_channels",
    "load_encoder",
    "make_segment",
    "mel_spectrogram",
    "resemblyzer_weights",
    "speaker_index",
    "speaker_label",
    "speech_regions",
    "talk_time",
    "voice_turns",
    "window_spans",
]
