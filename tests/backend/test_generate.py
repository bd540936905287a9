import math
import re
import threading

import pytest
import torch

from backend.generation.batch_decoder import TOP_ALTERNATIVES
from backend.generation.in_process import (
    check_window,
    encode_prompt,
    generate,
    single_token,
)
from backend.generation.token_steps import (
    GenerationSettings,
    branch_settings,
    perplexity,
)
from backend.runtime.errors import InputError
from backend.runtime.model_cache import get_model
from backend.runtime.registry import SMOLLM2


def _texts(stream):
    return [step.text for step in stream]


def test_once_upon_a_time_continues_in_english_within_max_new_tokens():
    stream = generate("Once upon a time", GenerationSettings(max_new_tokens=24, temperature=0, chat=False))
    pieces = _texts(stream)
    text = stream.text
    assert len(pieces) == 24, "the text arrives token by token"
    assert "".join(pieces) == text
    words = re.findall(r"[A-Za-z']+", text)
    assert len(words) >= 8
    common = {"the", "a", "an", "and", "was", "of", "in", "to", "there", "lived", "who", "with", "his", "her"}
    assert common & {w.lower() for w in words}
    assert stream.new_tokens == 24 and stream.stop_reason == "max new tokens"
    tokenizer = get_model(SMOLLM2.key).preprocessor
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 24 + 1
    assert stream.run.seconds > 0 and stream.tokens_per_second > 0


def test_chat_template_answers_a_question_and_stops_at_end_of_turn():
    stream = generate("What is the capital of France?", GenerationSettings(max_new_tokens=40, temperature=0))
    list(stream)
    text = stream.text
    assert "Paris" in text
    assert stream.stop_reason == "end of answer"
    assert stream.new_tokens < 40
    assert "<|im_end|>" not in text


def test_seeded_sampling_is_repeatable():
    settings = GenerationSettings(max_new_tokens=12, temperature=1.0, seed=7)
    assert _texts(generate("Tell me a story", settings)) == _texts(generate("Tell me a story", settings))
    other = GenerationSettings(max_new_tokens=12, temperature=1.0, seed=8)
    assert _texts(generate("Tell me a story", other)) != _texts(generate("Tell me a story", settings))


def test_closing_the_stream_early_stops_generation_and_frees_the_model():
    stream = generate("Count from one to one hundred.", GenerationSettings(max_new_tokens=300, temperature=0))
    pieces = iter(stream)
    next(pieces)
    pieces.close()
    assert stream.stop_reason == "stopped"
    assert stream.new_tokens == 1  # closed after its first token: no second one was computed
    handle = get_model(SMOLLM2.key)
    assert handle.lock.acquire(timeout=5), "the worker must release the model lock"
    handle.lock.release()


@pytest.mark.parametrize(
    ("prompt", "settings", "message"),
    [
        ("", GenerationSettings(), "empty"),
        ("Hi", GenerationSettings(max_new_tokens=0), "Max new tokens"),
        ("Hi", GenerationSettings(max_new_tokens=5000), "Max new tokens"),
        ("Hi", GenerationSettings(temperature=-1), "Temperature"),
        ("Hi", GenerationSettings(top_p=0), "Top-p"),
        ("Hi", GenerationSettings(top_p=1.5), "Top-p"),
        ("Hi", GenerationSettings(temperature=50), "Temperature"),
        ("Hi", GenerationSettings(top_k=-1), "Top-k"),
        ("Hi", GenerationSettings(repetition_penalty=0.5), "repetition penalty"),
        ("Hi", GenerationSettings(seed=-3), "seed"),
        ("Hi", GenerationSettings(system_prompt="x" * 5000), "system prompt"),
        ("\x00\x01", GenerationSettings(), "no visible characters"),
    ],
)
def test_bad_settings_are_refused_before_any_work(prompt, settings, message):
    with pytest.raises(InputError, match=message):
        generate(prompt, settings)


def test_a_prompt_longer_than_the_limit_is_refused():
    with pytest.raises(InputError, match="tokens long"):
        generate("story " * 3000, GenerationSettings(max_new_tokens=5))


def test_smollm2_mlps_in_bf16_keep_token_probabilities_within_a_hundredth():
    """The loaded SmolLM2 keeps its MLP weights in bf16 (memory); attention, norms and the
    output layer stay fp32. Its next-token probabilities stay within 0.01 of the all-fp32 model."""
    import torch
    from transformers import AutoModelForCausalLM

    from backend.runtime.gguf_convert import ensure_converted
    from backend.runtime.loaders import Bf16Linear
    from backend.runtime.model_cache import get_model
    from backend.runtime.registry import SMOLLM2

    handle = get_model(SMOLLM2.key)
    layer = handle.model.model.layers[0]
    assert isinstance(layer.mlp.down_proj, Bf16Linear) and layer.mlp.down_proj.weight.dtype == torch.bfloat16
    assert layer.self_attn.q_proj.weight.dtype == torch.float32
    assert handle.model.lm_head.weight.dtype == torch.float32
    reference = AutoModelForCausalLM.from_pretrained(ensure_converted(), dtype=torch.float32, attn_implementation="eager").eval()
    for prompt in ("The capital of France is", "def fibonacci(n):", "My favourite colour is"):
        ids = handle.preprocessor(prompt, return_tensors="pt")
        with torch.inference_mode(), handle.lock:
            ours = handle.model(**ids).logits[0, -1].softmax(-1)
            theirs = reference(**ids).logits[0, -1].softmax(-1)
        assert int(ours.argmax()) == int(theirs.argmax())
        assert float((ours - theirs).abs().max()) < 0.01


def test_greedy_output_equals_transformers_generate_token_for_token():
    handle = get_model(SMOLLM2.key)
    for prompt, chat in (("What is the capital of France?", True), ("Once upon a time", False)):
        stream = generate(prompt, GenerationSettings(max_new_tokens=30, temperature=0, chat=chat))
        ours = [step.token_id for step in stream]
        with handle.lock, torch.inference_mode():
            ids = torch.tensor([stream.prompt_ids])
            theirs = handle.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=30, do_sample=False,
                temperature=None, top_p=None, top_k=None, pad_token_id=handle.preprocessor.eos_token_id,
            )[0, ids.shape[1]:].tolist()
        assert ours == theirs


def _logits_of(stream):
    """The model's logits for every new token, from one separate forward pass over everything."""
    handle = stream.handle
    ids = torch.tensor([stream.prompt_ids + stream.token_ids])
    with handle.lock, torch.inference_mode():
        logits = handle.model(input_ids=ids).logits[0].float()
    return logits[stream.prompt_tokens - 1 : -1]


def test_each_step_reports_the_softmax_of_the_models_logits_and_sorted_alternatives():
    handle = get_model(SMOLLM2.key)
    seen = []  # the output layer's logits at each forward pass of the generation
    hook = handle.model.get_output_embeddings().register_forward_hook(lambda m, i, out: seen.append(out[0, -1].float().clone()))
    try:
        settings = GenerationSettings(max_new_tokens=20, temperature=0.8, top_k=30, top_p=0.9, seed=11, chat=False)
        stream = generate("The best thing about the ocean is", settings)
        steps = list(stream)
    finally:
        hook.remove()
    assert len(seen) == len(steps)
    for step, logits in zip(steps, seen, strict=True):
        probs = logits.softmax(-1)
        assert step.probability == pytest.approx(float(probs[step.token_id]), abs=1e-6)
        assert step.rank == int((probs > probs[step.token_id]).sum()) + 1
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum() / math.log(2)
        assert step.entropy_bits == pytest.approx(float(entropy), abs=1e-4)
        assert [c.token_id for c in step.before] == probs.topk(TOP_ALTERNATIVES).indices.tolist()
        for listed in (step.before, step.after):
            values = [c.probability for c in listed]
            assert values == sorted(values, reverse=True) and sum(values) <= 1 + 1e-6
        # what sampling removed: at most 30 tokens are left, and the drawn one is among them
        assert 1 <= step.kept <= 30 and step.drawn_probability > 0
        assert step.token_id in [c.token_id for c in step.after] or step.drawn_probability <= step.after[-1].probability
    # A separate full pass agrees within 0.01 (the bound the bf16-MLP test below holds): it
    # multiplies matrices of other shapes, and the bf16 MLPs round differently for them.
    full = _logits_of(stream).softmax(-1)
    assert max(abs(s.probability - float(p[s.token_id])) for s, p in zip(steps, full, strict=True)) < 0.01


def test_perplexity_equals_exp_of_the_mean_negative_log_likelihood_from_a_separate_pass():
    stream = generate("Write a sentence about cats.", GenerationSettings(max_new_tokens=25, temperature=1.0, seed=5))
    steps = list(stream)
    log_probs = _logits_of(stream).log_softmax(-1)
    nll = -log_probs[torch.arange(len(steps)), torch.tensor(stream.token_ids)].mean()
    assert perplexity(steps) == pytest.approx(math.exp(float(nll)), rel=1e-2)  # bf16 MLPs: see above


def test_greedy_steps_drew_with_certainty_and_a_repetition_penalty_changes_the_text():
    plain = generate("one two three one two three one two", GenerationSettings(max_new_tokens=12, temperature=0, chat=False))
    steps = list(plain)
    assert all(s.kept == 1 and s.drawn_probability == 1.0 and s.rank == 1 for s in steps)
    penalised = generate(
        "one two three one two three one two",
        GenerationSettings(max_new_tokens=12, temperature=0, chat=False, repetition_penalty=1.8),
    )
    assert _texts(penalised) != [s.text for s in steps]


def test_stop_from_another_thread_ends_a_long_generation_within_a_token():
    stream = generate("Count from one to one thousand.", GenerationSettings(max_new_tokens=500, temperature=0))
    seen = []
    for step in stream:
        seen.append(step)
        if len(seen) == 5:
            stopper = threading.Thread(target=stream.stop)
            stopper.start()
            stopper.join()  # Stop has been pressed before the loop asks for the next token
    assert stream.stop_reason == "stopped"
    assert len(seen) == 5 and stream.new_tokens == 5  # not one token more


def test_recorded_attention_is_the_predicting_positions_row_and_matches_a_full_pass():
    from backend.generation.look_back import attention_of_last

    stream = generate("The cat sat on the", GenerationSettings(max_new_tokens=6, temperature=0, chat=False, record_attention=True))
    steps = list(stream)
    handle = get_model(SMOLLM2.key)
    layers, heads = handle.model.config.num_hidden_layers, handle.model.config.num_attention_heads
    for step in steps:
        keys = stream.prompt_tokens + step.index
        assert step.attention.shape == (layers, heads, keys)
        assert abs(step.attention.astype("float32").sum(-1) - 1).max() < 5e-3
    full = attention_of_last(handle, stream.prompt_ids + stream.token_ids[:4])
    assert abs(full - steps[4].attention.astype("float32")).max() < 0.01  # bf16 MLPs, fp16 storage


def test_forcing_a_token_continues_from_there_and_reports_its_true_odds():
    original = generate("What is the capital of France?", GenerationSettings(max_new_tokens=20, temperature=0))
    steps = list(original)
    paris = next(s for s in steps if "Paris" in s.text)
    london = single_token(SMOLLM2.key, " London")
    branch = generate(
        "What is the capital of France?", branch_settings(original.settings, paris.index), prefix=original.token_ids[: paris.index],
        force=london,
    )
    branch_steps = list(branch)
    first = branch_steps[0]
    assert first.forced and first.token_id == london and first.index == paris.index
    assert first.probability < paris.probability and first.rank > 1
    assert len(branch_steps) <= 20 - paris.index
    assert "London" in original.handle.preprocessor.decode(original.token_ids[: paris.index] + branch.token_ids)


@pytest.mark.parametrize("text", ["", " London is", "Lonnnndonnnnn"])
def test_a_forced_token_must_be_exactly_one_token(text):
    with pytest.raises(InputError, match="Type the token|not one"):
        single_token(SMOLLM2.key, text)


def test_prompt_plus_new_tokens_beyond_the_window_is_refused_with_the_numbers():
    check_window(100, 900, 1024, "GPT-2")
    with pytest.raises(InputError, match=r"window of 1024 tokens. Lower max new tokens to at most 124"):
        check_window(900, 200, 1024, "GPT-2")
    with pytest.raises(InputError, match="tokens long"):
        check_window(1100, 1, 1024, "GPT-2")


def test_a_system_prompt_goes_into_the_chat_template():
    handle = get_model(SMOLLM2.key)
    ids = encode_prompt(handle, "Hello", chat=True, system_prompt="You answer in French.")
    text = handle.preprocessor.decode(ids)
    assert "You answer in French." in text and "SmolLM" not in text
    assert "You are a helpful AI assistant" in handle.preprocessor.decode(encode_prompt(handle, "Hello", chat=True))


def test_a_generation_stops_at_its_time_limit(monkeypatch):
    monkeypatch.setenv("DASHBOARD_GENERATION_SECONDS", "1")
    # raw completion of a count: it goes on far longer than a second, however fast the machine
    stream = generate("1, 2, 3, 4, 5, 6, 7, 8,", GenerationSettings(max_new_tokens=1000, temperature=0, chat=False))
    steps = list(stream)
    assert stream.stop_reason == "time limit (1 s)"
    assert 0 < len(steps) < 1000
    # the last token was begun before the limit, and no token after it: checked before each token
    assert len(steps) == 1 or steps[-2].seconds < 1.0
    assert steps[-1].seconds > 0.9


def test_float32_mlp_setting_keeps_smollm2_entirely_in_fp32(monkeypatch):
    from backend.runtime.loaders import LOADERS, Bf16Linear

    default = get_model(SMOLLM2.key)
    assert isinstance(default.model.model.layers[0].mlp.up_proj, Bf16Linear)
    monkeypatch.setenv("DASHBOARD_SMOLLM2_MLP_DTYPE", "float32")
    fp32 = LOADERS[("package", "decoder")](SMOLLM2, default.device)
    mlp = fp32.model.model.layers[0].mlp
    assert not isinstance(mlp.up_proj, Bf16Linear) and mlp.up_proj.weight.dtype == torch.float32
    assert {p.dtype for p in fp32.model.parameters()} == {torch.float32}
    ids = torch.tensor([fp32.preprocessor("The capital of France is")["input_ids"]])
    with torch.inference_mode(), default.lock:
        ours = default.model(input_ids=ids).logits[0, -1].softmax(-1)
        theirs = fp32.model(input_ids=ids).logits[0, -1].softmax(-1)
    assert (ours - theirs).abs().max() < 0.01  # the README's bound for the bf16 MLPs
