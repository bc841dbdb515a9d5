"""Who spoke when: a recording into speaker turns, and a transcript's segments split at them.

Two ways to the turns, chosen per recording by `diarise_file`:

- a stereo recording that carries one voice on each channel (a call recorded per side, two
  lapel microphones on a two-channel recorder) is split by which channel is the louder, frame by
  frame: no model is needed and the channels say it better than any voice model could;
- any other recording is split by voice: speech is found with Silero VAD (the ONNX model that
  faster-whisper ships), speaker embeddings are taken over short sliding windows of the speech, the
  windows are clustered (scikit-learn, agglomerative on cosine distance, then refined about the
  cluster centres), and each stretch of speech takes the speaker that most windows over it vote
  for; a change of speaker inside a stretch of speech is then moved to the quietest moment near it.

`assign_speakers` then gives each transcript segment its speaker, splitting a segment by its word
timestamps wherever the speaker changes, so that no segment mixes two speakers.

The voice model is Resemblyzer's speaker encoder (a 3-layer LSTM on 40-band mel spectra, trained
for speaker verification), whose weights ship inside the `resemblyzer` wheel, so nothing is fetched
at run time. Only the weights file is used: the network is defined here and the mel spectrum is
computed here with numpy, exactly as Resemblyzer computes it through librosa, so neither librosa
nor webrtcvad (Resemblyzer's own imports) is needed. `load_encoder` is the seam for larger
encoders a user may have locally (a SpeechBrain ECAPA model directory, or retrained
Resemblyzer-shaped weights).

Everything here is a plain function of arrays and dataclasses; nothing knows about the server.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from transcription.media import SAMPLE_RATE, UNDECODABLE, MediaError, probe
from transcription.transcript import Segment, Transcript, Word

# Speech finding. Shorter pauses than faster-whisper's own VAD settings (2 s of silence to end a
# region), because a pause is where one speaker most often hands over to the other.
VAD_MIN_SILENCE_S = 0.25
VAD_PAD_S = 0.05
VAD_MIN_SPEECH_S = 0.1

# Sliding windows for speaker embeddings: 1.5 s is about what the encoder was trained on (1.6 s
# partial utterances); a step of a third of that lets a change of speaker be placed to within
# about a quarter of a second. A stretch of speech shorter than a window is embedded on its own,
# down to MIN_WINDOW_S; shorter ones take the speaker of what is around them.
WINDOW_S = 1.5
STEP_S = 0.5
MIN_WINDOW_S = 0.4

# The time grid on which votes are counted and turns are cut.
FRAME_S = 0.02
# A run of one speaker shorter than this, in the middle of another's speech without a pause on
# either side, is taken for a misheard window rather than a turn.
MIN_FLIP_S = 0.6
# How far a change of speaker may be moved to a pause (see _snap_changes), and, in a transcript,
# by how many words to the end of a sentence (see _snap_to_sentences).
SNAP_S = 0.5
SNAP_WORDS = 2

# Estimating the number of speakers (n_speakers=None): more than one when clustering into two or
# three separates the windows with at least this silhouette (cosine). Measured: distinct espeak-ng
# voices 0.30 to 0.57, two real people (a LibriVox reader, JFK) 0.55; one voice split in two 0.13
# to 0.22.
MAX_SPEAKERS = 3
MIN_SILHOUETTE = 0.25
MIN_CLUSTER_SHARE = 0.05
# Below this many full windows (about 10 s of speech), a recording is taken for one voice.
MIN_WINDOWS_TO_COUNT = 20
# How sharply a window's similarity to each speaker's centre becomes a vote (softmax temperature).
VOTE_TEMPERATURE = 0.05

# Stereo: a recording carries one voice per channel when, in most of its speech, one channel is
# clearly the louder, and each channel is the louder for a fair share of it.
CHANNEL_DOMINANCE_DB = 6.0
MIN_DOMINATED_FRACTION = 0.7
MIN_CHANNEL_SHARE = 0.05


@dataclass(frozen=True)
class Turn:
    """One speaker talking from `start` to `end` (seconds). `speaker` numbers the voices from 0: by
    order of first appearance when told apart by voice, by channel (0 the left) when by channel.
    `confidence` in [0.5, 1]: how surely the speaker is the right one (the share of the votes, or
    how far the louder channel leads)."""

    start: float
    end: float
    speaker: int
    confidence: float = 1.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Diarisation:
    turns: list[Turn]
    duration: float
    method: str  # "channels" or "voices"
    speakers: int
    # Speech found, in seconds: the union of the turns.
    speech_seconds: float = 0.0
    # For method "voices": each speaker's mean embedding from the clustering (L2-normed), and how
    # well the voices separated (silhouette, cosine: about 0.3 and over for distinct voices, under
    # 0.25 where "two speakers" are one voice cut in two; None for one speaker).
    centroids: dict[int, np.ndarray] = field(default_factory=dict)
    separation: float | None = None

    def talk_time(self) -> dict[int, float]:
        return talk_time(self.turns, self.speakers)


def talk_time(turns: Iterable[Turn], speakers: int = 0) -> dict[int, float]:
    """Seconds spoken by each speaker; speakers up to `speakers` are listed even if silent."""
    totals = {speaker: 0.0 for speaker in range(speakers)}
    for turn in turns:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + turn.duration
    return totals


# --- Audio -----------------------------------------------------------------------------------------


def load_channels(path) -> np.ndarray:
    """The first audio stream of any media file as float32 in [-1, 1), 16 kHz, shape (channels,
    samples), keeping the channels apart (`media.load_audio` mixes them down)."""
    import ffmpeg

    from transcription.media import INPUT_OPTIONS, _local, ffmpeg_binary

    channels = max(1, probe(path).channels)
    try:
        out, _ = (
            ffmpeg.input(_local(path), **INPUT_OPTIONS)["a:0"]
            .output("pipe:", format="s16le", acodec="pcm_s16le", ac=channels, ar=SAMPLE_RATE)
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
            .run(cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error:
        raise MediaError(UNDECODABLE) from None
    samples = np.frombuffer(out, np.int16).astype(np.float32) / 32768.0
    samples = samples[: len(samples) - len(samples) % channels]
    return samples.reshape(-1, channels).T.copy()


def speech_regions(audio: np.ndarray, min_silence: float = VAD_MIN_SILENCE_S, pad: float = VAD_PAD_S,
                   min_speech: float = VAD_MIN_SPEECH_S) -> list[tuple[float, float]]:
    """Where there is speech, as (start, end) seconds, by the Silero VAD that faster-whisper ships
    (an ONNX model run by onnxruntime: no torch here)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) == 0:
        return []
    options = VadOptions(min_silence_duration_ms=int(min_silence * 1000), speech_pad_ms=int(pad * 1000),
                         min_speech_duration_ms=int(min_speech * 1000))
    found = get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32), options)
    return [(region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE) for region in found]


# --- Speaker encoders ------------------------------------------------------------------------------


class SpeakerEncoder(Protocol):
    name: str

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """One L2-normed embedding per (start, end) sample span of 16 kHz mono `audio`: (len(spans), dim)."""
        ...


# Resemblyzer's hyperparameters (resemblyzer/hparams.py): 25 ms windows every 10 ms, 40 mel bands,
# a 3-layer LSTM of 256 units, 256-dimensional embeddings; audio raised to -30 dBFS first.
_MEL_WINDOW = 400
_MEL_HOP = 160
_MEL_BANDS = 40
_NORM_TARGET_DBFS = -30.0


def resemblyzer_weights() -> Path:
    """The encoder weights inside the installed `resemblyzer` package, found without importing it
    (its __init__ imports librosa and webrtcvad, which are not needed here)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The speaker encoder needs the resemblyzer package: `pip install --no-deps resemblyzer`.")
    weights = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not weights.is_file():
        raise RuntimeError(f"resemblyzer is installed but has no {weights.name}.")
    return weights


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and area norm."""

    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        mel = 3.0 * f / 200.0
        log_region = f >= 1000.0
        return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        f = 200.0 * m / 3.0
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + _MEL_WINDOW // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), _MEL_BANDS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(audio: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
    """Resemblyzer's features: (frames, 40) mel power spectrum (not log), frame i centred on
    sample 160 i, as librosa.feature.melspectrogram computes it (Hann window, zero padding);
    frames `first` to `last` (exclusive; None: to the end) only, computed from just that stretch."""
    from scipy import fft

    audio = np.asarray(audio, dtype=np.float32)
    total = 1 + len(audio) // _MEL_HOP
    last = total if last is None else min(last, total)
    if last <= first:
        return np.zeros((0, _MEL_BANDS), dtype=np.float32)
    # Samples under frames first..last-1, zero-padded where they run off either end of the audio.
    begin, end = first * _MEL_HOP - _MEL_WINDOW // 2, (last - 1) * _MEL_HOP + _MEL_WINDOW // 2
    stretch = audio[max(begin, 0) : min(end, len(audio))]
    stretch = np.pad(stretch, (max(0, -begin), max(0, end - len(audio))))
    # A periodic Hann window, as scipy.signal.get_window("hann", 400) gives (without importing
    # scipy.signal, which takes a second).
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_MEL_WINDOW) / _MEL_WINDOW)).astype(np.float32)
    filters = _mel_filters()
    frames = last - first
    out = np.empty((frames, _MEL_BANDS), dtype=np.float32)
    strided = np.lib.stride_tricks.sliding_window_view(stretch, _MEL_WINDOW)[::_MEL_HOP]
    chunk = 8192  # frames at a time: bounded memory however long the stretch
    for at in range(0, frames, chunk):
        spectrum = fft.rfft(strided[at : at + chunk] * window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        out[at : at + chunk] = power @ filters.T
    return out


def _volume_gain(audio: np.ndarray) -> float:
    """The gain of Resemblyzer's normalize_volume(wav, -30, increase_only=True)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms <= 0:
        return 1.0
    return max(1.0, 10 ** ((_NORM_TARGET_DBFS - 20 * math.log10(rms)) / 20))


class ResemblyzerEncoder:
    """Resemblyzer's VoiceEncoder network, with its bundled weights or others of the same shape.

    `threads`: torch's intra-op threads while embedding (set for the call, then put back). The
    network is small, and on a machine busy with other work more threads than are free make it
    several times slower (measured: 1 thread 0.9 s, 2 threads 1.5 to 6.7 s for the same 124
    windows on 2 shared cores). None leaves torch's setting alone, which is right in a process that
    runs other torch work at the same time, since the setting is the process's.
    """

    name = "resemblyzer"
    batch = 128

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> None:
        import torch
        from torch import nn

        class Network(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(_MEL_BANDS, 256, 3, batch_first=True)
                self.linear = nn.Linear(256, 256)

        self.weights = Path(weights) if weights else resemblyzer_weights()
        checkpoint = torch.load(self.weights, map_location="cpu", weights_only=True)
        state = checkpoint.get("model_state", checkpoint)
        self.network = Network()
        # The checkpoint also holds the training loss's two similarity parameters: not needed here.
        self.network.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")})
        self.network.eval().to(device)
        self.device = device
        self.threads = threads

    def _forward(self, mels: list[np.ndarray]) -> np.ndarray:
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

        lengths = torch.tensor([len(m) for m in mels])
        padded = pad_sequence([torch.from_numpy(m) for m in mels], batch_first=True).to(self.device)
        with torch.inference_mode():
            packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
            _, (hidden, _) = self.network.lstm(packed)
            raw = torch.relu(self.network.linear(hidden[-1]))
            embeddings = raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-8)
        return embeddings.cpu().numpy()

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        import torch

        if not spans:
            return np.zeros((0, 256), dtype=np.float32)
        audio = np.asarray(audio, dtype=np.float32)
        # The mel spectrum is power: raising the audio's volume by g multiplies it by g squared.
        power_gain = np.float32(_volume_gain(audio) ** 2)
        ranges = [(int(start) // _MEL_HOP, max(int(end) // _MEL_HOP, int(start) // _MEL_HOP + 1))
                  for start, end in spans]
        windows: list[np.ndarray | None] = [None] * len(spans)
        # The spectrum of each run of overlapping windows (a stretch of speech), not of the whole
        # recording: the silence between is never computed, and a five-hour recording's spectrum
        # is never held at once.
        block: list[int] = []
        block_end = 0
        for index in [*sorted(range(len(ranges)), key=lambda i: ranges[i]), None]:
            if index is not None and (not block or ranges[index][0] <= block_end):
                block.append(index)
                block_end = max(block_end, ranges[index][1])
                continue
            first = ranges[block[0]][0]
            mel = mel_spectrogram(audio, first, block_end) * power_gain
            for i in block:
                piece = mel[ranges[i][0] - first : ranges[i][1] - first]
                windows[i] = np.ascontiguousarray(piece) if len(piece) else np.zeros((1, _MEL_BANDS), np.float32)
            if index is not None:
                block, block_end = [index], ranges[index][1]
        # Batches of like lengths, so that little of each batch is padding.
        order = np.argsort([len(w) for w in windows], kind="stable")
        out = np.empty((len(windows), 256), dtype=np.float32)
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            for first in range(0, len(order), self.batch):
                chosen = order[first : first + self.batch]
                out[chosen] = self._forward([windows[i] for i in chosen])
        finally:
            if self.threads:
                torch.set_num_threads(before)
        return out


class SpeechBrainEncoder:
    """A SpeechBrain speaker model (e.g. ECAPA-TDNN trained on VoxCeleb) from a local directory
    holding its hyperparams.yaml and checkpoint files. speechbrain is not a dependency of the
    project; this is for users who have both the library and a model on their machine."""

    name = "speechbrain"
    batch = 32

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        try:
            from speechbrain.inference.speaker import EncoderClassifier
        except ImportError:
            try:
                from speechbrain.pretrained import EncoderClassifier
            except ImportError:
                raise RuntimeError("A SpeechBrain speaker model needs `pip install speechbrain`.") from None
        model_dir = Path(model_dir)
        if not (model_dir / "hyperparams.yaml").is_file():
            raise RuntimeError(f"{model_dir} holds no SpeechBrain hyperparams.yaml.")
        # A local source: SpeechBrain reads the files where they are and fetches nothing.
        self.model = EncoderClassifier.from_hparams(source=str(model_dir), savedir=str(model_dir),
                                                    run_opts={"device": device})

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        import torch
        from torch.nn.utils.rnn import pad_sequence

        results = []
        for first in range(0, len(spans), self.batch):
            chunk = [torch.from_numpy(np.ascontiguousarray(audio[s:e], dtype=np.float32))
                     for s, e in spans[first : first + self.batch]]
            longest = max(len(c) for c in chunk)
            lengths = torch.tensor([len(c) / longest for c in chunk])
            with torch.inference_mode():
                results.append(self.model.encode_batch(pad_sequence(chunk, batch_first=True), lengths)
                               .squeeze(1).cpu().numpy())
        embeddings = np.concatenate(results) if results else np.zeros((0, 192), np.float32)
        return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-8)


_ENCODERS: dict[str, SpeakerEncoder] = {}


def load_encoder(model: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> SpeakerEncoder:
    """`model`: None or "resemblyzer" for the bundled encoder; a `.pt` file of Resemblyzer-shaped
    weights; or a directory holding a local SpeechBrain speaker model. Loaded once per process.
    `threads`: see ResemblyzerEncoder."""
    key = f"{model or 'resemblyzer'}@{device}@{threads}"
    if key not in _ENCODERS:
        if model is None or str(model) == "resemblyzer":
            _ENCODERS[key] = ResemblyzerEncoder(device=device, threads=threads)
        elif Path(model).is_dir():
            _ENCODERS[key] = SpeechBrainEncoder(model, device)
        elif Path(model).is_file():
            _ENCODERS[key] = ResemblyzerEncoder(model, device, threads)
        else:
            raise ValueError(f"No speaker encoder at {model}: give 'resemblyzer', a .pt file or a model directory.")
    return _ENCODERS[key]


# --- Voices ----------------------------------------------------------------------------------------


def window_spans(regions: Sequence[tuple[float, float]], window: float = WINDOW_S, step: float = STEP_S,
                 min_window: float = MIN_WINDOW_S) -> list[tuple[float, float]]:
    """Sliding windows over each speech region, every one inside its region: a region shorter than
    a window is one window; the last window of a region ends with the region."""
    spans = []
    for start, end in regions:
        length = end - start
        if length < min_window:
            continue
        if length <= window:
            spans.append((start, end))
            continue
        count = math.ceil((length - window) / step) + 1
        for i in range(count):
            s = min(start + i * step, end - window)
            spans.append((s, s + window))
    return spans


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    centres = np.stack([embeddings[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(embeddings.shape[1])
                        for c in range(k)])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-8)


def cluster(embeddings: np.ndarray, n_speakers: int | None = 2, max_speakers: int = MAX_SPEAKERS
            ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Labels for L2-normed embeddings, each cluster's centre, and the silhouette (cosine) of the
    clustering (None for one cluster): agglomerative clustering on cosine distance (average
    linkage), refined by reassigning each embedding to its nearest centre until none moves.

    `n_speakers` None: from 1 to `max_speakers`, the count whose clustering has the best silhouette,
    if that reaches MIN_SILHOUETTE with every cluster holding MIN_CLUSTER_SHARE of the windows, and
    there are MIN_WINDOWS_TO_COUNT windows at all; otherwise one.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros((0, embeddings.shape[1] if embeddings.ndim == 2 else 0)), None

    def fit(k: int) -> np.ndarray:
        labels = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)
        for _ in range(20):
            refined = np.argmax(embeddings @ _centroids(embeddings, labels, k).T, axis=1)
            if np.array_equal(refined, labels) or len(np.unique(refined)) < k:
                break
            labels = refined
        return labels

    def silhouette(labels: np.ndarray) -> float | None:
        return float(silhouette_score(embeddings, labels, metric="cosine")) if 1 < len(np.unique(labels)) < n else None

    if n_speakers is None:
        best_k, best_labels, best_score = 1, np.zeros(n, dtype=int), None
        if n >= MIN_WINDOWS_TO_COUNT:
            for k in range(2, max_speakers + 1):
                labels = fit(k)
                if np.bincount(labels, minlength=k).min() < MIN_CLUSTER_SHARE * n:
                    continue
                score = silhouette(labels)
                if score is not None and score >= MIN_SILHOUETTE and (best_score is None or score > best_score):
                    best_k, best_labels, best_score = k, labels, score
        return best_labels, _centroids(embeddings, best_labels, best_k), best_score
    k = max(1, min(n_speakers, n))
    labels = fit(k) if k > 1 else np.zeros(n, dtype=int)
    return labels, _centroids(embeddings, labels, k), silhouette(labels)


def _frames(duration: float) -> int:
    return max(1, math.ceil(duration / FRAME_S))


def _speech_mask(regions: Sequence[tuple[float, float]], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for start, end in regions:
        mask[round(start / FRAME_S) : round(end / FRAME_S)] = True
    return mask


def _runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, value) for each run of equal values."""
    if len(values) == 0:
        return []
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(values)]])
    return [(int(s), int(e), int(values[s])) for s, e in zip(starts, ends, strict=True)]


def _smooth(labels: np.ndarray, min_flip: float = MIN_FLIP_S) -> np.ndarray:
    """Within each stretch of speech (labels >= 0), a run shorter than `min_flip` seconds that
    silence does not bound on both sides goes to the neighbouring speaker with the longer run."""
    labels = labels.copy()
    limit = round(min_flip / FRAME_S)
    while True:
        runs = _runs(labels)
        touched: set[int] = set()
        # Shortest first, so that one short flip is absorbed before it can shield another; a run
        # next to one changed in this pass waits for the next pass, which sees the runs as they are.
        short = sorted((i for i, (s, e, v) in enumerate(runs) if v >= 0 and e - s < limit),
                       key=lambda i: runs[i][1] - runs[i][0])
        for index in short:
            if touched & {index - 1, index, index + 1}:
                continue
            neighbours = [runs[i] for i in (index - 1, index + 1) if 0 <= i < len(runs) and runs[i][2] >= 0]
            if not neighbours:
                continue  # a short utterance with pauses either side: a turn of its own
            start, end, _ = runs[index]
            labels[start:end] = max(neighbours, key=lambda r: r[1] - r[0])[2]
            touched.add(index)
        if not touched:
            return labels


def _turns(labels: np.ndarray, confidence: np.ndarray, order_by_first: bool = True) -> list[Turn]:
    """Turns from per-frame labels (-1 for no speech); speakers renumbered by first appearance."""
    runs = [r for r in _runs(labels) if r[2] >= 0]
    numbering: dict[int, int] = {}
    for _, _, value in runs:
        numbering.setdefault(value, len(numbering) if order_by_first else value)
    return [Turn(start=round(s * FRAME_S, 3), end=round(e * FRAME_S, 3), speaker=numbering[v],
                 confidence=round(float(np.mean(confidence[s:e])), 3))
            for s, e, v in runs]


def diarise_voices(audio: np.ndarray, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                   regions: Sequence[tuple[float, float]] | None = None) -> Diarisation:
    """Turns of 16 kHz mono `audio` by voice: VAD, window embeddings, clustering, voting."""
    duration = len(audio) / SAMPLE_RATE
    regions = speech_regions(audio) if regions is None else list(regions)
    frames = _frames(duration)
    speech = _speech_mask(regions, frames)
    spans = window_spans(regions)
    if not spans:
        labels = np.where(speech, 0, -1)
        turns = _turns(labels, np.ones(frames))
        return Diarisation(turns, duration, "voices", 1 if turns else 0, _seconds(turns))
    encoder = encoder or load_encoder()
    embeddings = encoder.embed(audio, [(int(s * SAMPLE_RATE), int(e * SAMPLE_RATE)) for s, e in spans])
    # Windows cut short by a short stretch of speech embed differently from full ones whoever speaks
    # (they cluster by length), so the speakers are found from full windows alone.
    full = np.array([e - s >= WINDOW_S - 1e-6 for s, e in spans])
    fitted = full if full.sum() >= 2 else np.ones(len(spans), dtype=bool)
    _, centres, separation = cluster(embeddings[fitted], n_speakers)
    k = len(centres)
    # Each window votes for every speaker by its softmaxed similarity to their centres.
    similarity = embeddings @ centres.T
    votes = np.exp((similarity - similarity.max(axis=1, keepdims=True)) / VOTE_TEMPERATURE)
    votes /= votes.sum(axis=1, keepdims=True)
    tally = np.zeros((frames + 1, k))
    for (s, e), vote in zip(spans, votes, strict=True):
        tally[round(s / FRAME_S)] += vote
        tally[min(round(e / FRAME_S), frames)] -= vote
    tally = np.cumsum(tally, axis=0)[:frames]
    voted = tally.sum(axis=1) > 1e-9
    labels = np.where(speech, np.argmax(tally, axis=1), -1)
    confidence = np.where(voted, tally.max(axis=1) / np.maximum(tally.sum(axis=1), 1e-9), 0.5)
    # Speech no window covers (a stretch too short to embed) takes its nearest voted neighbour.
    labels = _fill(labels, speech & ~voted)
    labels = _smooth(labels)
    labels = _snap_changes(labels, _channel_levels(audio[None])[0])
    turns = _turns(labels, confidence)
    order = _first_appearance(labels)
    return Diarisation(turns, duration, "voices", len(order), _seconds(turns),
                       {order[c]: centres[c] for c in order}, separation)


def _snap_changes(labels: np.ndarray, levels: np.ndarray, reach: float = SNAP_S) -> np.ndarray:
    """Move each change of speaker inside a stretch of speech to the quietest moment within
    `reach` seconds of where the votes put it: people mostly hand over in a pause, however short,
    and the windows place a change only to within a fraction of their length."""
    labels = labels.copy()
    reach_frames = round(reach / FRAME_S)
    # Level averaged over 140 ms: a pause between speakers, not the closure of a stop consonant.
    quiet = np.convolve(np.pad(levels, (0, max(0, len(labels) - len(levels))), constant_values=-120.0)[: len(labels)],
                        np.ones(7) / 7, mode="same")
    runs = _runs(labels)
    for (s0, e0, a), (s1, e1, b) in itertools.pairwise(runs):
        if a < 0 or b < 0:
            continue
        # Within reach, and leaving each run at least half its length.
        low = max(e0 - reach_frames, s0 + (e0 - s0) // 2)
        high = min(e0 + reach_frames, e1 - (e1 - s1) // 2)
        if high <= low:
            continue
        cut = low + int(np.argmin(quiet[low:high]))
        if cut < e0:
            labels[cut:e0] = b
        else:
            labels[e0:cut] = a
    return labels


def _first_appearance(labels: np.ndarray) -> dict[int, int]:
    numbering: dict[int, int] = {}
    for _, _, value in _runs(labels):
        if value >= 0:
            numbering.setdefault(value, len(numbering))
    return numbering


def _fill(labels: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Frames in `holes` take the label of the nearest frame outside them that has one."""
    if not holes.any():
        return labels
    known = np.flatnonzero(~holes & (labels >= 0))
    if len(known) == 0:
        return np.where(holes, 0, labels)
    filled = labels.copy()
    where = np.flatnonzero(holes)
    position = np.clip(np.searchsorted(known, where), 1, len(known) - 1) if len(known) > 1 else np.zeros_like(where)
    if len(known) > 1:
        left, right = known[position - 1], known[position]
        nearest = np.where(where - left <= right - where, left, right)
    else:
        nearest = np.full_like(where, known[0])
    filled[where] = labels[nearest]
    return filled


def _seconds(turns: Sequence[Turn]) -> float:
    return round(sum(turn.duration for turn in turns), 3)


# --- Channels --------------------------------------------------------------------------------------


def _channel_levels(channels: np.ndarray) -> np.ndarray:
    """(channels, frames) level in dBFS of each FRAME_S frame."""
    hop = int(FRAME_S * SAMPLE_RATE)
    frames = channels.shape[1] // hop
    power = np.mean(np.square(channels[:, : frames * hop].reshape(channels.shape[0], frames, hop),
                              dtype=np.float64), axis=2)
    return 10 * np.log10(np.maximum(power, 1e-12))


@dataclass(frozen=True)
class ChannelCheck:
    """How the channels share the speech: the fraction of speech frames in which one channel is
    louder by CHANNEL_DOMINANCE_DB, and each channel's share of those."""

    dominated: float
    shares: tuple[float, ...]

    @property
    def one_voice_each(self) -> bool:
        return (len(self.shares) == 2 and self.dominated >= MIN_DOMINATED_FRACTION
                and min(self.shares) >= MIN_CHANNEL_SHARE)


def check_channels(channels: np.ndarray, regions: Sequence[tuple[float, float]]) -> ChannelCheck:
    if channels.shape[0] < 2:
        return ChannelCheck(0.0, (1.0,))
    levels = _channel_levels(channels)
    speech = _speech_mask(regions, levels.shape[1])[: levels.shape[1]]
    # Frames loud enough to be speech rather than a pause within it.
    loud = speech & (levels.max(axis=0) > np.percentile(levels.max(axis=0)[speech], 20) if speech.any() else speech)
    if not loud.any():
        return ChannelCheck(0.0, tuple(0.0 for _ in range(channels.shape[0])))
    ordered = np.sort(levels[:, loud], axis=0)
    margin = ordered[-1] - ordered[-2]
    dominant = margin >= CHANNEL_DOMINANCE_DB
    loudest = np.argmax(levels[:, loud], axis=0)[dominant]
    shares = tuple(float(np.mean(loudest == c)) if len(loudest) else 0.0 for c in range(channels.shape[0]))
    return ChannelCheck(float(np.mean(dominant)), shares)


def diarise_channels(channels: np.ndarray, regions: Sequence[tuple[float, float]] | None = None) -> Diarisation:
    """Turns of a recording with one voice per channel: in each frame of speech, the louder
    channel is the one speaking. Speaker numbers follow the channels (0 is the first, the left)."""
    mono = channels.mean(axis=0)
    duration = channels.shape[1] / SAMPLE_RATE
    regions = speech_regions(mono) if regions is None else list(regions)
    levels = _channel_levels(channels)
    frames = levels.shape[1]
    speech = _speech_mask(regions, frames)[:frames]
    # Levels smoothed over 100 ms, so that one quiet syllable does not hand the turn over.
    kernel = np.ones(5) / 5
    smoothed = np.stack([np.convolve(level, kernel, mode="same") for level in levels])
    ordered = np.sort(smoothed, axis=0)
    margin = ordered[-1] - ordered[-2]
    loudest = np.argmax(smoothed, axis=0)
    floor = np.percentile(smoothed.max(axis=0)[speech], 10) if speech.any() else 0.0
    # Pauses inside speech (both channels quiet) take their neighbours' speaker.
    quiet = speech & (smoothed.max(axis=0) < floor)
    labels = np.where(speech, loudest, -1)
    labels = _fill(labels, quiet)
    labels = _smooth(labels)
    # 3 dB of margin is an even call; 12 dB is beyond doubt.
    confidence = np.clip(0.5 + (margin - 3.0) / 18.0, 0.5, 1.0)
    turns = _turns(labels, confidence, order_by_first=False)
    return Diarisation(turns, duration, "channels", channels.shape[0], _seconds(turns))


# --- Whole recordings ------------------------------------------------------------------------------


def diarise(channels: np.ndarray, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
            use_channels: bool = True) -> Diarisation:
    """Turns of a recording given as (channels, samples) at 16 kHz (what `load_channels` gives):
    by channel where there are two channels with one voice on each, else by voice on their mix."""
    channels = np.atleast_2d(channels)
    mono = channels.mean(axis=0) if channels.shape[0] > 1 else channels[0]
    regions = speech_regions(mono)
    if use_channels and channels.shape[0] == 2 and check_channels(channels, regions).one_voice_each:
        return diarise_channels(channels, regions)
    return diarise_voices(mono, n_speakers, encoder, regions)


def diarise_file(path, n_speakers: int | None = 2, encoder: SpeakerEncoder | None = None,
                 use_channels: bool = True) -> Diarisation:
    """Turns of any recording ffmpeg can read."""
    return diarise(load_channels(path), n_speakers, encoder, use_channels)


# --- Transcripts -----------------------------------------------------------------------------------


def speaker_label(speaker: int) -> str:
    """How a diarised speaker is named in a transcript before roles are given: "speaker 1"."""
    return f"speaker {speaker + 1}"


def speaker_index(label: str | None) -> int | None:
    if label and label.startswith("speaker ") and label[8:].isdigit():
        return int(label[8:]) - 1
    return None


def make_segment(start: float, end: float, text: str, words: list[Word], speaker: str | None,
                 confidence: float | None) -> Segment:
    segment = Segment(start=start, end=end, text=text, words=words, speaker=speaker)
    # Segment.speaker_confidence (a field of Segment once transcript.py has it).
    segment.speaker_confidence = confidence
    return segment


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _speaker_at(start: float, end: float, turns: Sequence[Turn], starts: list[float]) -> Turn | None:
    """The turn overlapping [start, end] most; failing any, the nearest one."""
    if not turns:
        return None
    import bisect

    index = bisect.bisect_right(starts, end)
    best, best_overlap = None, 0.0
    for turn in turns[max(0, index - 8) : index + 1]:
        overlap = _overlap(start, end, turn.start, turn.end)
        if overlap > best_overlap:
            best, best_overlap = turn, overlap
    if best is not None:
        return best
    middle = (start + end) / 2
    candidates = turns[max(0, index - 2) : index + 2] or turns
    return min(candidates, key=lambda t: max(t.start - middle, middle - t.end, 0.0))


def _sentence_ends_after(words: Sequence[Word]) -> set[int]:
    """Indexes i at which a sentence starts: 0, len(words), and after each word ending in . ? or !."""
    return {0, len(words)} | {i + 1 for i, word in enumerate(words) if word.word.rstrip("\"')").endswith((".", "?", "!"))}


def _snap_to_sentences(words: Sequence[Word], found: list[Turn | None], reach: int = SNAP_WORDS) -> list[Turn | None]:
    """Move each change of speaker between words to a sentence boundary (or the segment's edge)
    at most `reach` words away. Whisper's word times are loose by a word or so at a change of
    speaker (a last word often runs on into the pause), and people hand over at the end of a
    sentence far more often than in the middle of one."""
    found = list(found)
    boundaries = sorted(_sentence_ends_after(words))
    i = 1
    while i < len(found):
        before, after = found[i - 1], found[i]
        changed = (before is None) != (after is None) or (before is not None and before.speaker != after.speaker)
        if not changed or i in boundaries:
            i += 1
            continue
        near = [b for b in boundaries if abs(b - i) <= reach]
        if not near:
            i += 1
            continue
        target = min(near, key=lambda b: (abs(b - i), b))
        if target < i:
            found[target:i] = [after] * (i - target)
        else:
            found[i:target] = [before] * (target - i)
        i = max(i, target) + 1
    return found


def join_words(words: Sequence[Word]) -> str:
    return " ".join(word.word for word in words).strip()


def assign_speakers(transcript: Transcript, turns: Sequence[Turn]) -> Transcript:
    """The transcript with each segment given its speaker ("speaker 1", ...), and any segment
    whose words span a change of speaker split there, so no segment mixes two speakers.

    A word belongs to the turn it overlaps most (a word in a pause, to the nearest turn). A segment
    left whole keeps Whisper's text and times; the parts of a split one take theirs from their
    words. `speaker_confidence` is the mean confidence of the turns its words fall in.
    """
    turns = sorted(turns, key=lambda t: t.start)
    starts = [turn.start for turn in turns]
    segments = []
    for segment in transcript.segments:
        if not segment.words:
            turn = _speaker_at(segment.start, segment.end, turns, starts)
            segments.append(make_segment(segment.start, segment.end, segment.text, [], 
                                         None if turn is None else speaker_label(turn.speaker),
                                         None if turn is None else turn.confidence))
            continue
        found = [_speaker_at(word.start, word.end, turns, starts) for word in segment.words]
        found = _snap_to_sentences(segment.words, found)
        speakers = [None if turn is None else turn.speaker for turn in found]
        pieces: list[tuple[int, int]] = []
        for i, speaker in enumerate(speakers):
            if pieces and speakers[pieces[-1][0]] == speaker:
                pieces[-1] = (pieces[-1][0], i + 1)
            else:
                pieces.append((i, i + 1))
        for first, last in pieces:
            words = segment.words[first:last]
            speaker = speakers[first]
            confidences = [found[i].confidence for i in range(first, last) if found[i] is not None]
            confidence = round(float(np.mean(confidences)), 3) if confidences else None
            label = None if speaker is None else speaker_label(speaker)
            if len(pieces) == 1:
                segments.append(make_segment(segment.start, segment.end, segment.text, list(words), label, confidence))
            else:
                segments.append(make_segment(words[0].start, words[-1].end, join_words(words), list(words), label,
                                             confidence))
    return Transcript(language=transcript.language, engine=transcript.engine, model=transcript.model,
                      duration=transcript.duration, segments=segments)


# --- Evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiarisationError:
    """Seconds of reference speech missed, of speech found where there was none, and of speech
    given to the wrong speaker (under the best one-to-one mapping of speakers), out of `total`
    seconds of reference speech scored."""

    missed: float
    false_alarm: float
    confusion: float
    total: float

    @property
    def rate(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0


def diarisation_error(reference: Iterable[tuple[float, float, object]], hypothesis: Iterable[tuple[float, float, object]],
                      collar: float = 0.25, resolution: float = 0.01) -> DiarisationError:
    """The diarisation error rate's parts, as NIST and pyannote.metrics count them: frames within
    `collar` seconds of a reference turn's start or end are not scored; overlapping speech counts
    once per speaker. Turns are (start, end, speaker)."""
    from scipy.optimize import linear_sum_assignment

    reference, hypothesis = list(reference), list(hypothesis)
    end = max([e for _, e, _ in reference + hypothesis], default=0.0)
    frames = math.ceil(end / resolution) + 1
    ref_speakers = sorted({s for _, _, s in reference}, key=str)
    hyp_speakers = sorted({s for _, _, s in hypothesis}, key=str)

    def grid(turns, speakers):
        out = np.zeros((len(speakers), frames), dtype=bool)
        index = {s: i for i, s in enumerate(speakers)}
        for s, e, who in turns:
            out[index[who], round(s / resolution) : round(e / resolution)] = True
        return out

    ref, hyp = grid(reference, ref_speakers), grid(hypothesis, hyp_speakers)
    scored = np.ones(frames, dtype=bool)
    c = round(collar / resolution)
    if c:
        for s, e, _ in reference:
            for edge in (round(s / resolution), round(e / resolution)):
                scored[max(0, edge - c) : edge + c] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    # The mapping of hypothesis speakers onto reference speakers that agrees on the most frames.
    agreement = ref.astype(np.int64) @ hyp.T.astype(np.int64) if len(ref) and len(hyp) else np.zeros((0, 0))
    correct = np.zeros(ref.shape[1], dtype=np.int64)
    if agreement.size:
        rows, cols = linear_sum_assignment(-agreement)
        for r, h in zip(rows, cols, strict=True):
            correct += ref[r] & hyp[h]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    return DiarisationError(missed * resolution, false_alarm * resolution, confusion * resolution,
                            n_ref.sum() * resolution)


def diarisation_error_rate(reference, hypothesis, collar: float = 0.25) -> float:
    return diarisation_error(reference, hypothesis, collar).rate
