"""The seed model and corpus for the whole classifier suite."""

from __future__ import annotations

import pytest

from rating.classifier import load_newest_good
from rating.classifier_corpus import load_seed_corpus


@pytest.fixture(scope="session")
def seed_examples():
    return load_seed_corpus()


@pytest.fixture(scope="session")
def seed_model(seed_model_dir):
    """Measured by grouped cross-validation and fitted on the whole seed corpus, as `dit classifier train` does:
    the session's seed model (tests/seed_model.py), which the service tests use too, loaded from its file."""
    return load_newest_good(seed_model_dir)
