"""Speaker encoders: a voice into an embedding, so that voices can be told apart and compared.

The bundled one is Resemblyzer's speaker encoder (a 3-layer LSTM on 40-band mel spectra, trained
for speaker verification), whose weights ship inside the `resemblyzer` wheel, so nothing is fetched
at run time. Only the weights file is used: the network is defined here and its features come from
`mel`. `load_encoder` is the seam for larger encoders a user may have locally (a SpeechBrain ECAPA
model directory, or retrained Resemblyzer-shaped weights).

`load_encoder` only loads; the caller keeps the encoder for as long as it likes (the worker, for
its life).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from transcription.diarize.mel import MEL_BANDS, MEL_HOP, mel_spectrogram, volume_gain


class SpeakerEncoder(Protocol):
    name: str

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]], gain: float | None = None) -> np.ndarray:
        """One L2-normed embedding per (start, end) sample span of 16 kHz mono `audio`: (len(spans), dim).
        `gain`: the volume gain of the whole recording when `audio` is a block of it (`mel.gain_for`), for
        an encoder that evens out volume; None works it out from `audio`."""
        ...


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
                self.lstm = nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
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

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]], gain: float | None = None) -> np.ndarray:
        import torch

        if not spans:
            return np.zeros((0, 256), dtype=np.float32)
        audio = np.asarray(audio, dtype=np.float32)
        # The mel spectrum is power: raising the audio's volume by g multiplies it by g squared.
        power_gain = np.float32((volume_gain(audio) if gain is None else gain) ** 2)
        ranges = [(int(start) // MEL_HOP, max(int(end) // MEL_HOP, int(start) // MEL_HOP + 1))
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
                windows[i] = np.ascontiguousarray(piece) if len(piece) else np.zeros((1, MEL_BANDS), np.float32)
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

    def embed(self, audio: np.ndarray, spans: Sequence[tuple[int, int]], gain: float | None = None) -> np.ndarray:
        """(`gain` is not used: SpeechBrain's models take the audio as it is.)"""
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


def load_encoder(model: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> SpeakerEncoder:
    """`model`: None or "resemblyzer" for the bundled encoder; a `.pt` file of Resemblyzer-shaped
    weights; or a directory holding a local SpeechBrain speaker model. `threads`: see
    ResemblyzerEncoder."""
    if model is None or str(model) == "resemblyzer":
        return ResemblyzerEncoder(device=device, threads=threads)
    if Path(model).is_dir():
        return SpeechBrainEncoder(model, device)
    if Path(model).is_file():
        return ResemblyzerEncoder(model, device, threads)
    raise ValueError(f"No speaker encoder at {model}: give 'resemblyzer', a .pt file or a model directory.")
