"""The seed on-model classifier for the tests that run the service: trained once per session, copied into
each test's data directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def seed_model_dir(tmp_path_factory) -> Path:
    """The seed on-model classifier, trained once for the session as a new installation trains it (grouped
    cross-validation and fit, with the sentence encoder: about half a minute on 2 cores). Each test's
    data directory gets a copy (`with_seed_model`), as an installation that has trained it has."""
    from rating.classifier import default_model

    directory = tmp_path_factory.mktemp("seed-model")
    default_model(directory)
    return directory


def with_seed_model(seed_model_dir: Path, data_dir: Path) -> None:
    """The seed model's files copied where the service looks for its models under `data_dir`."""
    shutil.copytree(seed_model_dir, data_dir / "models" / "on-model")
