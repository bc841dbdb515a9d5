"""CTranslate2 model files read back, and converted into openai-whisper checkpoints that decode alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from ctranslate2.specs import model_spec, whisper_spec
from faster_whisper import WhisperModel

from speechfixtures.recorded import JFK_TEXT
from speechfixtures.scoring import wer
from transcription.convert import convert_ctranslate2_to_openai, dequantise, read_ctranslate2_model
from transcription.engines import bundled_model_dir
from transcription.media import load_audio

TINY_EN_DIMS = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
                "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4}
TINY_EN_ALIGNMENT_HEADS = [[1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]]

GREEDY = {"temperature": 0.0, "without_timestamps": True, "condition_on_previous_text": False}


@pytest.fixture(scope="session")
def bundled() -> tuple[dict, dict[str, np.ndarray]]:
    return read_ctranslate2_model(bundled_model_dir())


def test_the_bundled_model_reads_as_whisper_tiny_en(bundled):
    config, variables = bundled
    assert config["alignment_heads"] == TINY_EN_ALIGNMENT_HEADS
    embedding = variables["decoder/embeddings/weight"]
    assert embedding.shape == (51864, 384) and embedding.dtype == np.float16
    assert variables["decoder/projection/weight"] is embedding  # stored once, under an alias
    assert variables["encoder/layer_3/self_attention/linear_0/weight"].shape == (3 * 384, 384)
    assert variables["encoder/conv1/weight"].shape == (384, 80, 3)
    assert (int(variables["encoder/num_heads"]), int(variables["decoder/num_heads"])) == (6, 6)
    assert np.isfinite(embedding).all() and 0.01 < float(np.abs(embedding).mean()) < 1


def write_with_ctranslate2(variables: dict[str, np.ndarray], source: Path, out: Path, quantization: str) -> Path:
    """The same weights, quantised and saved by CTranslate2's own model writer."""
    spec = whisper_spec.WhisperSpec(4, int(variables["encoder/num_heads"]), 4, int(variables["decoder/num_heads"]))
    for name, value in variables.items():
        if value.ndim:  # scalars are the spec's own settings, which its constructor has set
            scope, attribute = name.rsplit("/", 1)
            setattr(model_spec.index_spec(spec, scope), attribute, value)
    spec.register_vocabulary((source / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    spec.validate()
    spec.optimize(quantization=quantization)
    out.mkdir()
    spec.save(str(out))
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(source / name, out / name)
    return out


@pytest.fixture(scope="session")
def int8_model(bundled, tmp_path_factory) -> Path:
    return write_with_ctranslate2(bundled[1], bundled_model_dir(), tmp_path_factory.mktemp("ct2") / "int8", "int8")


@pytest.mark.parametrize("quantization, stored, tolerance", [
    ("int8", np.int8, 1 / 127),  # of each row's largest magnitude
    ("int16", np.int16, 1 / 1024),  # of the whole matrix's largest magnitude (CTranslate2 keeps 10 bits)
    ("float32", np.float32, 0),
    ("bfloat16", np.float32, 2**-8),  # bfloat16 keeps 8 bits of mantissa; it is read as float32
])
def test_reads_what_ctranslate2_writes(bundled, tmp_path, quantization, stored, tolerance):
    _, original = bundled
    model_dir = write_with_ctranslate2(original, bundled_model_dir(), tmp_path / quantization, quantization)
    _, variables = read_ctranslate2_model(model_dir)
    matrices = [name for name, value in original.items() if value.ndim >= 2 and not name.startswith("decoder/proj")]
    assert variables["encoder/layer_0/ffn/linear_0/weight"].dtype == stored
    for name in matrices:
        expected = original[name].astype(np.float32)
        assert variables[name].shape == expected.shape, name
        bound = tolerance * np.abs(expected).max() if tolerance else 0
        assert np.abs(dequantise(variables, name) - expected).max() <= bound + 1e-6, name


@pytest.fixture(scope="session")
def checkpoint_contents(openai_checkpoint) -> dict:
    return torch.load(openai_checkpoint, map_location="cpu", weights_only=True)


def test_the_checkpoint_has_whisper_tiny_en_dimensions_and_every_weight(checkpoint_contents):
    assert checkpoint_contents["dims"] == TINY_EN_DIMS
    expected = whisper.model.Whisper(whisper.model.ModelDimensions(**TINY_EN_DIMS)).state_dict()
    state = checkpoint_contents["model_state_dict"]
    assert set(state) == set(expected)
    assert all(state[name].shape == expected[name].shape for name in expected)
    assert state["decoder.token_embedding.weight"].dtype == torch.float16  # as stored, not widened


def test_the_checkpoint_carries_the_alignment_heads(openai_checkpoint, openai_whisper):
    model = whisper.load_model(str(openai_checkpoint), device="cpu")
    default_heads = model.alignment_heads.to_dense().clone()
    heads = openai_whisper.model.alignment_heads.to_dense()
    assert heads.nonzero().tolist() == TINY_EN_ALIGNMENT_HEADS
    assert not torch.equal(heads, default_heads)  # so they were set, not left at openai-whisper's default


def greedy_faster_whisper(model_dir: Path, audio: np.ndarray, compute_type: str) -> list[int]:
    model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type)
    segments, _ = model.transcribe(audio, beam_size=1, **GREEDY)
    return [token for segment in segments for token in segment.tokens]


def greedy_openai_whisper(checkpoint: Path, audio: np.ndarray) -> tuple[list[int], str]:
    model = whisper.load_model(str(checkpoint), device="cpu")
    result = whisper.transcribe(model, audio, beam_size=None, fp16=False, **GREEDY)
    tokens = [token for segment in result["segments"] for token in segment["tokens"]]
    return tokens, result["text"]


@pytest.mark.slow
def test_openai_whisper_decodes_the_same_tokens_as_faster_whisper(openai_checkpoint, jfk, book_reading):
    for path in (jfk, book_reading[0]):
        audio = load_audio(path)
        # float32: the weights exactly as stored, where int8 would round them first.
        expected = greedy_faster_whisper(bundled_model_dir(), audio, "float32")
        tokens, _ = greedy_openai_whisper(openai_checkpoint, audio)
        assert len(expected) > 20
        assert [t for t in tokens if t < whisper.tokenizer.get_tokenizer(False).eot] == expected


@pytest.mark.slow
def test_an_int8_model_converts_to_a_working_checkpoint(int8_model, tmp_path, jfk):
    checkpoint = convert_ctranslate2_to_openai(int8_model, tmp_path / "int8.pt")
    assert torch.load(checkpoint, weights_only=True)["model_state_dict"]["encoder.conv1.weight"].dtype == torch.float32
    _, text = greedy_openai_whisper(checkpoint, load_audio(jfk))
    assert wer(JFK_TEXT, text) < 0.15
    assert list(tmp_path.iterdir()) == [checkpoint]  # written whole: no partial file left


def test_a_model_from_another_ctranslate2_version_is_refused(tmp_path):
    model_dir = tmp_path / "future"
    model_dir.mkdir()
    shutil.copy(bundled_model_dir() / "config.json", model_dir)
    (model_dir / "model.bin").write_bytes((7).to_bytes(4, "little") + b"\0" * 16)
    with pytest.raises(ValueError, match="binary version 7"):
        read_ctranslate2_model(model_dir)
