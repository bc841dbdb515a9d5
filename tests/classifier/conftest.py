"""The seed model, trained once for the whole classifier suite (a few seconds)."""

from __future__ import annotations

import pytest

from rating.classifier import train
from rating.classifier_corpus import load_seed_corpus


@pytest.fixture(scope="session")
def seed_examples():
    return load_seed_corpus()


@pytest.fixture(scope="session")
def seed_model(seed_examples):
    """Measured by grouped cross-validation and fitted on the whole seed corpus, as `dit classifier train` does."""
    return train(seed_examples)
