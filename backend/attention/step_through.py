"""softmax(QKᵀ/√d_k) V for one query token of one head, recomputed from the model's own Q, K, V.

Hooks on the layer's query/key/value projections take the real vectors during one forward pass
(and are removed right after). The step-through then does by hand what the model did: for a
Llama-style decoder (SmolLM2) the rotary position embedding turns q and k first, and with
grouped-query attention each query head reads the key/value head it shares with its group. Gemma 3
also normalises each head's q and k (RMSNorm) before the rotary embedding: there the vectors are
taken after those norms.
The recomputed weights and head output are compared with the model's own (its attention
weights, and the input of the output projection), and the largest difference is reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import torch

from backend.attention.weights import MAX_TOKENS, attention_view_of
from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel, RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.registry import MINILM
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.text_input import check_token_count, clean_text
from backend.shared.tokens import display_tokens


@dataclass(frozen=True)
class Parts:
    """Where one layer's attention lives in a model, and its shape."""

    query: torch.nn.Module
    key: torch.nn.Module
    value: torch.nn.Module
    output: torch.nn.Module  # its input is the heads' outputs, side by side
    attention: torch.nn.Module  # called with the rotary cos/sin (Llama-style)
    heads: int
    kv_heads: int
    head_dim: int
    rotary: bool
    normed: bool = False  # q and k are taken after the layer's own per-head norms (Gemma 3)


def parts(handle: LoadedModel, layer: int) -> Parts:
    model, config = handle.model, handle.model.config
    heads = config.num_attention_heads
    if hasattr(model, "encoder") and hasattr(model.encoder, "layer"):  # BERT / MiniLM
        block = model.encoder.layer[layer].attention
        return Parts(block.self.query, block.self.key, block.self.value, block.output.dense, block.self,
                     heads, heads, config.hidden_size // heads, False)
    if hasattr(model, "distilbert"):  # DistilBERT (Hub)
        block = model.distilbert.transformer.layer[layer].attention
        return Parts(block.q_lin, block.k_lin, block.v_lin, block.out_lin, block, heads, heads,
                     config.dim // heads, False)
    inner = getattr(model, "model", None)
    if inner is not None and hasattr(inner, "layers") and hasattr(inner.layers[layer].self_attn, "q_proj"):
        block = inner.layers[layer].self_attn
        kv_heads = getattr(config, "num_key_value_heads", heads)
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        if hasattr(block, "q_norm") and hasattr(block, "k_norm"):  # Gemma 3: q and k normalised per head
            return Parts(block.q_norm, block.k_norm, block.v_proj, block.o_proj, block, heads, kv_heads, head_dim, True, True)
        return Parts(block.q_proj, block.k_proj, block.v_proj, block.o_proj, block, heads, kv_heads, head_dim, True)
    raise InputError(
        "The step-through needs separate query, key and value projections; {model} "
        "computes them in one fused matrix. The heatmaps still show its weights.", model=handle.spec.name,
    )


@dataclass(frozen=True)
class StepThrough:
    tokens: list[str]
    layer: int
    head: int
    query: int  # position of the query token
    kv_head: int  # the key/value head this query head reads (= head without grouped-query attention)
    kv_heads: int
    heads: int
    causal: bool
    rotary: bool
    normed: bool  # q and k after the model's per-head norms (Gemma 3), before the rotary embedding
    q_before_rotary: np.ndarray  # (d_k,) the projection's output (after its norm); equal to q without rotary
    q: np.ndarray  # (d_k,)
    keys: np.ndarray  # (n, d_k) after rotary, for every token
    values: np.ndarray  # (n, d_v)
    scores: np.ndarray  # (n,) q · k
    scaled: np.ndarray  # (n,) divided by √d_k
    masked: np.ndarray  # (n,) bool, keys the causal mask hides
    weights: np.ndarray  # (n,) softmax
    output: np.ndarray  # (d_v,) weights · V
    model_weights: np.ndarray  # the model's own row of attention weights
    model_output: np.ndarray  # the model's own head output
    hooks_left: int  # of the step-through's own hooks, how many are still on the model: 0
    run: RunInfo

    @property
    def d_k(self) -> int:
        return int(self.q.shape[0])

    @property
    def weights_difference(self) -> float:
        return float(np.abs(self.weights - self.model_weights).max())

    @property
    def output_difference(self) -> float:
        return float(np.abs(self.output - self.model_output).max())


def _hook_total(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@dataclass(frozen=True)
class _Captured:
    """What one hooked forward pass took from a layer: every head's q, k, v (before rotary),
    the rotary cos/sin, the heads' outputs side by side, and the model's attention weights."""

    q: torch.Tensor  # (heads, n, d)
    k: torch.Tensor  # (kv_heads, n, d)
    v: torch.Tensor  # (kv_heads, n, d)
    rotary: tuple[torch.Tensor, torch.Tensor] | None
    heads_output: torch.Tensor  # (n, heads * d)
    attentions: torch.Tensor  # (heads, n, n) of this layer
    hooks_left: int


def _capture(handle: LoadedModel, found: Parts, layer: int, encoded) -> _Captured:
    """One forward pass with hooks on the layer's projections; the hooks are removed after it,
    also when it fails. Call under the model's lock."""
    captured: dict[str, object] = {}

    def keep(name: str):
        return lambda _module, _inputs, output: captured.__setitem__(name, output.detach())

    def keep_rotary(_module, _args, kwargs):
        captured["rotary"] = kwargs.get("position_embeddings")

    def keep_heads(_module, inputs):
        captured["heads"] = inputs[0].detach()

    hooks = [
        found.query.register_forward_hook(keep("q")),
        found.key.register_forward_hook(keep("k")),
        found.value.register_forward_hook(keep("v")),
        found.output.register_forward_pre_hook(keep_heads),
    ]
    if found.rotary:
        hooks.append(found.attention.register_forward_pre_hook(keep_rotary, with_kwargs=True))
    hooked = [found.query, found.key, found.value, found.output, found.attention]
    try:
        output = handle.model(**encoded.to(handle.device), output_attentions=True)
    finally:
        for hook in hooks:
            hook.remove()
    hooks_left = sum(
        hook.id in module._forward_hooks or hook.id in module._forward_pre_hooks for hook in hooks for module in hooked
    )
    n, dim = encoded["input_ids"].shape[1], found.head_dim

    def by_head(name: str, heads: int) -> torch.Tensor:
        if found.normed and name != "v":  # a per-head norm's output is (batch, heads, n, d) already
            return captured[name][0].float()
        return captured[name][0].float().view(n, heads, dim).transpose(0, 1)

    return _Captured(
        by_head("q", found.heads), by_head("k", found.kv_heads), by_head("v", found.kv_heads),
        captured.get("rotary"), captured["heads"][0].float(), output.attentions[layer][0].float(), hooks_left,
    )


def _check_position(handle: LoadedModel, layer: int, head: int) -> Parts:
    config = handle.model.config
    layers = config.num_hidden_layers if hasattr(config, "num_hidden_layers") else config.n_layers
    if not 0 <= layer < layers:
        raise InputError("{model} has layers 1 to {most}.", model=handle.spec.name, most=layers)
    found = parts(handle, layer)
    if not 0 <= head < found.heads:
        raise InputError("{model} has heads 1 to {most}.", model=handle.spec.name, most=found.heads)
    return found


def step_through(
    text: str, layer: int, head: int, query: int, model_key: str = MINILM.key
) -> StepThrough:
    """The attention of token `query` in (`layer`, `head`) (0-based), recomputed step by step."""
    text = clean_text(text)
    handle = get_model(model_key)
    found = _check_position(handle, layer, head)
    causal = bool(handle.extras.get("causal"))
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        encoded = handle.preprocessor(text, return_tensors="pt")
        ids = encoded["input_ids"][0].tolist()
        check_token_count(len(ids), min(MAX_TOKENS, limits().text_tokens), "text", attention_view_of(handle.spec.name))
        if not 0 <= query < len(ids):
            raise InputError("The text has {count} tokens; pick a query token from 1 to {count}.", count=len(ids))
        captured = _capture(handle, found, layer, encoded)
        run = handle.run_info(started)
        tokens = display_tokens(handle, ids)
    return _recompute(captured, found, tokens, layer, head, query, causal, run)


def _recompute(
    captured: _Captured, found: Parts, tokens: list[str], layer: int, head: int, query: int, causal: bool, run: RunInfo
) -> StepThrough:
    """softmax(q·K/√d_k)·V by hand from the captured vectors, beside the model's own numbers."""
    n = len(tokens)
    kv_head = head // (found.heads // found.kv_heads)
    q_all, k_all = captured.q, captured.k
    if found.rotary:
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        cos, sin = captured.rotary
        q_rot, k_rot = apply_rotary_pos_emb(q_all[None], k_all[None], cos.float(), sin.float())
        q_all, k_all = q_rot[0], k_rot[0]
    q = q_all[head, query]
    keys, values = k_all[kv_head], captured.v[kv_head]
    scores = keys @ q
    scaled = scores / math.sqrt(found.head_dim)
    masked = torch.arange(n) > query if causal else torch.zeros(n, dtype=torch.bool)
    weights = torch.softmax(scaled.masked_fill(masked, float("-inf")), dim=-1)
    as_np = lambda t: t.detach().cpu().numpy().astype(np.float64)  # noqa: E731
    return StepThrough(
        tokens=tokens, layer=layer, head=head, query=query, kv_head=kv_head, kv_heads=found.kv_heads,
        heads=found.heads, causal=causal, rotary=found.rotary, normed=found.normed,
        q_before_rotary=as_np(captured.q[head, query]), q=as_np(q), keys=as_np(keys), values=as_np(values),
        scores=as_np(scores), scaled=as_np(scaled), masked=masked.numpy(), weights=as_np(weights),
        output=as_np(weights @ values), model_weights=as_np(captured.attentions[head, query]),
        model_output=as_np(captured.heads_output[query].view(found.heads, found.head_dim)[head]),
        hooks_left=captured.hooks_left, run=run,
    )


def submit_step_through(
    text: str, layer: int, head: int, query: int, model_key: str = MINILM.key,
    *, owner: str | None = None, slot: str | None = None, client: str | None = None, request_key: Hashable | None = None,
) -> Job:
    args = (clean_text(text), layer, head, query, model_key)
    return SCHEDULER.submit(model_key, step_through, *args, owner=owner, slot=slot, client=client, request_key=request_key or args)
