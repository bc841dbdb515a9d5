"""The sentence encoders behind the meaning features: the int8 ONNX export that new models use, and the
float32 model that models trained before it name ("bundled"), which must keep giving the same meanings."""

from __future__ import annotations

import numpy as np

from rating.classifier_embeddings import BUNDLED, MINILM_INT8, encoder, pattern_sentence
from tests.classifier.cases import AFTERTHOUGHT, AFTERTHOUGHT_ECHOES, DISAPPOINTMENT, DISAPPOINTMENT_ECHOES, GENERIC


def test_the_int8_export_gives_the_float32_models_meanings():
    texts = [*AFTERTHOUGHT_ECHOES, *DISAPPOINTMENT_ECHOES, *GENERIC]
    foci = [pattern_sentence(ipaf.self_representation, ipaf.other_representation, ipaf.affect)
            for ipaf in (AFTERTHOUGHT, DISAPPOINTMENT)]
    int8, float32 = encoder(MINILM_INT8), encoder(BUNDLED)
    turns, reference = int8.embed(texts), float32.embed(texts)
    np.testing.assert_allclose(np.linalg.norm(turns, axis=1), 1, atol=1e-5)
    assert np.einsum("ij,ij->i", turns, reference).min() > 0.99
    # What matters to the features: each turn's similarity to each focus, and which focus is the closer.
    similarities, expected = turns @ int8.embed(foci).T, reference @ float32.embed(foci).T
    assert np.abs(similarities - expected).max() < 0.03
    echoes = len(AFTERTHOUGHT_ECHOES) + len(DISAPPOINTMENT_ECHOES)
    assert np.array_equal(similarities[:echoes].argmax(axis=1), expected[:echoes].argmax(axis=1))


def test_a_turns_embedding_does_not_depend_on_the_turns_beside_it():
    """A session's suggestion must not change with what else the service embedded in the same batch."""
    int8 = encoder(MINILM_INT8)
    long_turn = "and then she said that she would ring me back but she never did " * 40  # past 256 tokens
    together = int8.embed([*AFTERTHOUGHT_ECHOES, long_turn])
    alone = np.stack([int8.embed([text])[0] for text in [*AFTERTHOUGHT_ECHOES, long_turn]])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert int8.encode([]).shape == (0, 384)
