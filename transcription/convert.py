"""Turn a CTranslate2 Whisper model (what faster-whisper runs) into an openai-whisper checkpoint.

No package registry ships openai-whisper weights, but a CTranslate2 Whisper model holds the very
same weights, only laid out for CTranslate2: the query, key and value projections of
self-attention are fused into one matrix, and the key and value projections of cross-attention
into another. Splitting them back gives a checkpoint on which openai-whisper decodes the same
tokens as faster-whisper.

model.bin is CTranslate2's own binary format (written by `ctranslate2.specs.ModelSpec._serialize`,
read by `src/models/model.cc`), little-endian throughout:

    u32 binary version, string spec name, u32 spec revision, u32 variable count,
    per variable: string name, u8 rank, u32 * rank shape, u8 dtype id, u32 byte count, data,
    u32 alias count, per alias: string alias, string name of the variable it stands for,

where a string is a u16 length (terminating NUL included), the UTF-8 bytes, and a NUL.
"""

from __future__ import annotations

import base64
import gzip
import json
import mmap
import os
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import torch

# CTranslate2 reads every version from 4 (which added the dtype id and byte count) the same way;
# 6 is the one it writes today.
BINARY_VERSIONS = range(4, 7)

# The dtype ids of ctranslate2/specs/model_spec.py, in the order of its DataType enum.
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class _Reader:
    def __init__(self, buffer) -> None:
        self.buffer = buffer
        self.offset = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buffer, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def number(self, fmt: str) -> int:
        return self.unpack(fmt)[0]

    def string(self) -> str:
        length = self.number("H")
        text = self.buffer[self.offset : self.offset + length - 1].decode("utf-8")
        self.offset += length
        return text

    def variable(self) -> np.ndarray:
        shape = self.unpack(f"{self.number('B')}I")
        dtype = DTYPES[self.number("B")]
        num_bytes = self.number("I")
        raw = np.frombuffer(self.buffer, np.uint8, num_bytes, self.offset)
        self.offset += num_bytes
        if dtype == "bfloat16":
            # numpy has no bfloat16; it is the top half of a float32.
            return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
        return raw.view(dtype).reshape(shape).copy()


def read_ctranslate2_model(model_dir) -> tuple[dict, dict[str, np.ndarray]]:
    """(config.json contents, variables by name, aliases included), values as stored."""
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    variables: dict[str, np.ndarray] = {}
    with open(model_dir / "model.bin", "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
        reader = _Reader(buffer)
        version = reader.number("I")
        if version not in BINARY_VERSIONS:
            raise ValueError(f"CTranslate2 binary version {version} is not supported (only 4 to 6).")
        reader.string()  # spec name
        reader.number("I")  # spec revision
        for _ in range(reader.number("I")):
            name = reader.string()
            variables[name] = reader.variable()
        for _ in range(reader.number("I")):
            alias = reader.string()
            variables[alias] = variables[reader.string()]
    return config, variables


def dequantise(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A weight as a float array: int8 models keep one scale per output row, int16 one in all."""
    value = variables[name]
    scale = variables.get(f"{name}_scale")
    if scale is None:
        return value
    return value.astype(np.float32) / scale.astype(np.float32).reshape(scale.shape + (1,) * (value.ndim - scale.ndim))


def _layer_count(variables: dict[str, np.ndarray], stack: str) -> int:
    return len({match[1] for name in variables if (match := re.match(rf"{stack}/layer_(\d+)/", name))})


def _alignment_heads_dump(heads: list[list[int]], layers: int, heads_per_layer: int) -> bytes:
    """openai-whisper's own encoding of alignment heads (as in whisper._ALIGNMENT_HEADS)."""
    mask = np.zeros((layers, heads_per_layer), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def convert_ctranslate2_to_openai(model_dir, out_path) -> Path:
    """Write `out_path` as a checkpoint that `whisper.load_model(out_path)` loads.

    Besides the "dims" and "model_state_dict" that openai-whisper reads, the checkpoint keeps the
    model's "alignment_heads" (the cross-attention heads that follow the words in time, used for
    word timestamps) in openai-whisper's encoding, for `Whisper.set_alignment_heads`.
    """
    config, variables = read_ctranslate2_model(model_dir)
    state: dict[str, torch.Tensor] = {}

    def put(target: str, value: np.ndarray) -> None:
        state[target] = torch.from_numpy(np.ascontiguousarray(value))

    def linear(source: str, target: str) -> None:
        put(f"{target}.weight", dequantise(variables, f"{source}/weight"))
        put(f"{target}.bias", variables[f"{source}/bias"])

    def layer_norm(source: str, target: str) -> None:
        put(f"{target}.weight", variables[f"{source}/gamma"])
        put(f"{target}.bias", variables[f"{source}/beta"])

    def split(source: str, targets: list[str]) -> None:
        # The key projection has no bias in Whisper (CTranslate2 stores zeros for it): a bias on
        # the keys adds the same amount to every score of a query, which softmax cancels.
        weights = np.split(dequantise(variables, f"{source}/weight"), len(targets))
        biases = np.split(variables[f"{source}/bias"], len(targets))
        for target, w, b in zip(targets, weights, biases, strict=True):
            put(f"{target}.weight", w)
            if not target.endswith(".key"):
                put(f"{target}.bias", b)

    def block(source: str, target: str) -> None:
        layer_norm(f"{source}/self_attention/layer_norm", f"{target}.attn_ln")
        split(f"{source}/self_attention/linear_0", [f"{target}.attn.{part}" for part in ("query", "key", "value")])
        linear(f"{source}/self_attention/linear_1", f"{target}.attn.out")
        layer_norm(f"{source}/ffn/layer_norm", f"{target}.mlp_ln")
        linear(f"{source}/ffn/linear_0", f"{target}.mlp.0")
        linear(f"{source}/ffn/linear_1", f"{target}.mlp.2")

    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"encoder.{conv}")
    put("encoder.positional_embedding", variables["encoder/position_encodings/encodings"])
    audio_layers = _layer_count(variables, "encoder")
    for i in range(audio_layers):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}")
    layer_norm("encoder/layer_norm", "encoder.ln_post")

    if not np.array_equal(variables["decoder/projection/weight"], variables["decoder/embeddings/weight"]):
        raise ValueError("This model's output projection is not its token embedding, as Whisper's is.")
    embedding = dequantise(variables, "decoder/embeddings/weight")
    put("decoder.token_embedding.weight", embedding)
    put("decoder.positional_embedding", variables["decoder/position_encodings/encodings"])
    text_layers = _layer_count(variables, "decoder")
    for i in range(text_layers):
        source, target = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        block(source, target)
        layer_norm(f"{source}/attention/layer_norm", f"{target}.cross_attn_ln")
        linear(f"{source}/attention/linear_0", f"{target}.cross_attn.query")
        split(f"{source}/attention/linear_1", [f"{target}.cross_attn.key", f"{target}.cross_attn.value"])
        linear(f"{source}/attention/linear_2", f"{target}.cross_attn.out")
    layer_norm("decoder/layer_norm", "decoder.ln")

    audio_ctx, audio_state = variables["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = variables["decoder/position_encodings/encodings"].shape
    dims = {
        "n_mels": variables["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": audio_ctx,
        "n_audio_state": audio_state,
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": audio_layers,
        "n_vocab": embedding.shape[0],
        "n_text_ctx": text_ctx,
        "n_text_state": text_state,
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": text_layers,
    }
    checkpoint = {"dims": dims, "model_state_dict": state}
    if config.get("alignment_heads"):
        checkpoint["alignment_heads"] = _alignment_heads_dump(
            config["alignment_heads"], text_layers, dims["n_text_head"]
        )

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and moved into place, so that a reader never finds half a checkpoint.
    fd, partial = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, partial)
        os.replace(partial, out_path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return out_path
