import numpy as np
import pytest

from backend.attention.weights import MAX_TOKENS, attention
from backend.runtime.errors import InputError
from backend.runtime.registry import MINILM, SMOLLM2

SENTENCE = "The cat sat on the mat because it was tired."


def test_encoder_attention_shape_rows_and_tokens():
    result = attention(SENTENCE, MINILM.key)
    n = len(result.tokens)
    assert result.tokens[0] == "[CLS]" and result.tokens[-1] == "[SEP]"
    assert result.tokens.count("the") == 2
    assert result.weights.shape == (6, 12, n, n)
    assert result.weights.dtype == np.float32
    np.testing.assert_allclose(result.weights.sum(axis=-1), 1.0, atol=1e-4)
    assert not result.causal
    assert np.triu(result.weights, k=1).max() > 0.05  # an encoder also looks ahead


def test_decoder_attention_is_causal():
    result = attention(SENTENCE, SMOLLM2.key)
    n = len(result.tokens)
    assert result.weights.shape == (30, 9, n, n)
    assert "".join(result.tokens) == SENTENCE
    np.testing.assert_allclose(result.weights.sum(axis=-1), 1.0, atol=1e-4)
    assert result.causal
    assert np.abs(np.triu(result.weights, k=1)).max() == 0.0
    assert np.allclose(result.weights[:, :, 0, 0], 1.0)  # the first token can only see itself


def test_too_long_and_empty_text_are_refused():
    with pytest.raises(InputError, match="tokens long"):
        attention("word " * (MAX_TOKENS + 5), MINILM.key)
    with pytest.raises(InputError, match="empty"):
        attention("  \n ", MINILM.key)
