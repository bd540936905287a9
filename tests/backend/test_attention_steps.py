"""The attention formula with real numbers: the toy example, the step-through against the model's
own weights (encoder, and decoder with RoPE and grouped-query attention), and the page's views."""

import io

import numpy as np
import pytest
import torch

from backend.attention.attention_figures import (
    head_view_html,
    model_view,
    weights_heatmap,
)
from backend.attention.matrices import (
    VIEW_TOKENS,
    head_matrix,
    rollout_matrix,
    tensor_npz,
    view_matrix,
    window_for,
)
from backend.attention.step_through import _hook_total, parts, step_through
from backend.attention.toy_example import (
    TOY_EMBEDDINGS,
    TOY_TOKENS,
    parse_matrix,
    toy_attention,
)
from backend.attention.weights import MAX_TOKENS, attention
from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.model_cache import get_model
from backend.runtime.registry import GEMMA3, MINILM, SMOLLM2, get_spec

SENTENCE = "The cat sat on the mat because it was tired."


def _numpy_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scaled = (q @ k.T) / np.sqrt(k.shape[1])
    weights = np.exp(scaled) / np.exp(scaled).sum(axis=1, keepdims=True)
    return q, k, v, q @ k.T, scaled, weights, weights @ v


def test_toy_example_equals_numpy_and_the_right_numbers():
    x = np.array(TOY_EMBEDDINGS)
    steps = toy_attention(x, np.eye(3), np.eye(3), np.eye(3))
    expected = _numpy_attention(x, np.eye(3), np.eye(3), np.eye(3))
    for got, want in zip((steps.q, steps.k, steps.v, steps.scores, steps.scaled, steps.weights, steps.output), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    # the worked numbers, done right: 我·我 = 0.01+0.04+0.09 = 0.14, 我·编程 = 0.1+0.22+0.36 = 0.68
    np.testing.assert_allclose(steps.scores[0], [0.14, 0.32, 0.50, 0.68], atol=1e-12)
    np.testing.assert_allclose(steps.scaled[0], np.array([0.14, 0.32, 0.50, 0.68]) / np.sqrt(3), atol=1e-12)
    np.testing.assert_allclose(steps.weights.sum(axis=1), 1, atol=1e-12)
    assert steps.tokens == TOY_TOKENS and steps.d_k == 3
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(3, 3)) for _ in range(3)]
    edited = toy_attention(x * 3, *w)
    for got, want in zip((edited.q, edited.scores, edited.weights, edited.output),
                         [_numpy_attention(x * 3, *w)[i] for i in (0, 3, 5, 6)], strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([["0.1", "", "0.3"]], "row 1, column 2 is empty"),
        ([["0.1", None, "0.3"]], "is empty"),
        ([["0.1", "abc", "0.3"]], "'abc', not a number"),
        ([["1e300", "0", "0"]], "between"),
        ([["inf", "0", "0"]], "between"),
        ([["nan", "0", "0"]], "is empty"),
        ([["1", "2"]], "has 2 numbers"),
        ([], "is empty"),
    ],
)
def test_toy_tables_with_blanks_text_or_huge_numbers_get_a_message(cells, message):
    with pytest.raises(InputError, match=message):
        parse_matrix(cells, "X", 3)


def test_toy_tables_accept_numbers_and_a_decimal_comma():
    np.testing.assert_allclose(parse_matrix([["0,5", 2, "-1e3"]], "X", 3), [[0.5, 2, -1000]])
    assert toy_attention(np.full((4, 3), 1e6), np.eye(3), np.eye(3), np.eye(3)).weights.sum() == pytest.approx(4)


@pytest.mark.parametrize(("model_key", "layer", "head", "query"), [
    (MINILM.key, 0, 0, 3), (MINILM.key, 3, 7, 12), (MINILM.key, 5, 11, 0),
    (SMOLLM2.key, 0, 0, 4), (SMOLLM2.key, 14, 5, 10), (SMOLLM2.key, 29, 8, 0),
    (GEMMA3.key, 0, 0, 4), (GEMMA3.key, 5, 3, 9), (GEMMA3.key, 17, 1, 2),
])
def test_step_through_equals_the_models_own_attention(model_key, layer, head, query):
    model = get_model(model_key).model
    attention(SENTENCE, model_key)  # transformers adds its own output-recording hooks on first use
    hooks_before = _hook_total(model)
    step = step_through(SENTENCE, layer, head, query, model_key)
    assert step.weights_difference < 1e-5
    assert step.output_difference < 1e-5 * max(1.0, np.abs(step.model_output).max())  # Gemma's values reach 30
    assert abs(step.weights.sum() - 1) < 1e-6
    assert step.hooks_left == 0 and _hook_total(model) == hooks_before
    if model_key == GEMMA3.key:  # q and k normalised per head, then rotated; one key/value head for four
        assert step.rotary and step.normed and step.causal and (step.heads, step.kv_heads, step.kv_head) == (4, 1, 0)
        assert np.all(step.weights[query + 1:] == 0)
    elif model_key == SMOLLM2.key:
        assert step.rotary and step.causal and step.heads == 9 and step.kv_heads == 3
        assert step.kv_head == head // 3
        assert np.all(step.weights[query + 1:] == 0) and step.masked[query + 1:].all()
        if query > 0:
            assert not np.allclose(step.q, step.q_before_rotary)  # rotary turned it
    else:
        assert not step.rotary and not step.causal and step.kv_head == head
        np.testing.assert_array_equal(step.q, step.q_before_rotary)
    np.testing.assert_allclose(step.scaled, step.scores / np.sqrt(step.d_k))


def test_step_through_refuses_what_it_cannot_do():
    with pytest.raises(InputError, match="layers 1 to 6"):
        step_through(SENTENCE, 6, 0, 0, MINILM.key)
    with pytest.raises(InputError, match="heads 1 to 9"):
        step_through(SENTENCE, 0, 9, 0, SMOLLM2.key)
    with pytest.raises(InputError, match="pick a query token"):
        step_through("Hi", 0, 0, 50, MINILM.key)
    from transformers import GPT2Config, GPT2LMHeadModel

    tiny = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32))
    handle = LoadedModel(get_spec("hub:gpt2"), tiny, None, torch.device("cpu"), 0.0)
    with pytest.raises(InputError, match="fused"):
        parts(handle, 0)


@pytest.mark.parametrize("text", ["a", "!!! ??? ...", "I ❤️ 学习编程 — שלום עולם", "supercalifragilistic " * 20])
def test_odd_texts_give_rows_that_sum_to_one(text):
    for key in (MINILM.key, SMOLLM2.key):
        result = attention(text, key)
        np.testing.assert_allclose(result.weights.sum(axis=-1), 1, atol=1e-4)
        if result.causal:
            assert np.abs(np.triu(result.weights, k=1)).max() == 0.0


def test_over_the_cap_is_refused_with_the_numbers():
    with pytest.raises(InputError, match=f"at most {MAX_TOKENS}"):
        attention("word " * (MAX_TOKENS + 5), MINILM.key)


def test_views_hide_special_tokens_combine_heads_and_window_long_texts():
    result = attention(SENTENCE, MINILM.key)
    window = window_for(len(result.tokens))
    mean, top = head_matrix(result, 2, None, "mean"), head_matrix(result, 2, None, "max")
    assert np.all(top >= mean - 1e-7)
    shown, tokens, positions = view_matrix(result, mean, True, window)
    assert "[CLS]" not in tokens and "[SEP]" not in tokens and len(tokens) == len(result.tokens) - 2
    np.testing.assert_allclose(shown.sum(axis=1), 1, atol=1e-6)
    long = attention("the cat sat on the mat " * 30, MINILM.key)
    assert len(long.tokens) > VIEW_TOKENS
    last = window_for(len(long.tokens), 10_000)
    assert last.size == VIEW_TOKENS and last.stop == len(long.tokens)
    part, labels, _ = view_matrix(long, long.weights[0, 0], False, last)
    assert part.shape == (VIEW_TOKENS, VIEW_TOKENS) and labels[-1] == "[SEP]"
    archive = np.load(io.BytesIO(tensor_npz(long, last)))
    assert archive["weights"].shape == (6, 12, VIEW_TOKENS, VIEW_TOKENS) and int(archive["first_position"]) == last.start


def test_rollout_of_a_real_model_equals_the_reference():
    result = attention(SENTENCE, SMOLLM2.key)
    joint = np.eye(len(result.tokens))
    for layer in result.weights.astype(np.float64):
        a = 0.5 * layer.mean(axis=0) + 0.5 * np.eye(len(result.tokens))
        joint = (a / a.sum(axis=1, keepdims=True)) @ joint
    np.testing.assert_allclose(rollout_matrix(result), joint, atol=1e-9)
    assert np.abs(np.triu(rollout_matrix(result), k=1)).max() < 1e-12  # still causal


def test_figures_escape_tokens_and_bound_what_is_sent():
    tokens = ["<script>alert(1)</script>", "b&c", "\"q\""]
    weights = np.full((1, 3, 3), 1 / 3)
    page = head_view_html(tokens, weights, [0], 0.1)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    result = attention("word " * 200, SMOLLM2.key)
    grid = model_view(result.weights[:, :, :64, :64])
    assert len(grid.data[1].customdata) == 30 * 9
    assert len(grid.to_json()) < 400_000  # one PNG and 270 markers, not 30 x 9 x 64 x 64 numbers
    heat = weights_heatmap(result.weights[0, 0, :64, :64], result.tokens[:64], "t", True)
    assert len(heat.to_json()) < 200_000
