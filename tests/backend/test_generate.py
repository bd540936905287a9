import math
import os
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


def mlp_dtype(handle) -> torch.dtype:
    """The dtype SmolLM2's MLP weights were loaded in: bf16 where the hardware computes it
    natively, else fp32, unless DASHBOARD_SMOLLM2_MLP_DTYPE says otherwise."""
    return handle.model.model.layers[0].mlp.down_proj.weight.dtype


def same_model_bound(handle) -> float:
    """How far two computations of the same next-token probabilities may differ when they only
    multiply matrices of other shapes (one row or several, a step or a full pass), which sums in
    another order.

    fp32 keeps 24 bits: another order moves a sum in its last bits (about 1e-7 of it), which
    thirty layers carry to the probabilities still far below 1e-4. bf16 MLPs round each product's
    input and result to 8 bits (steps of 0.4 %), and another order flips the rounding in other
    places: each of the two computations may be as far from the fp32 model as bf16 MLPs may move
    it at all (0.01, `test_smollm2_mlps_keep_token_probabilities_close_to_the_fp32_model`), so
    they may be 0.02 apart."""
    return 0.02 if mlp_dtype(handle) == torch.bfloat16 else 1e-4


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


def test_smollm2_mlps_keep_token_probabilities_close_to_the_fp32_model():
    """The loaded SmolLM2 has its MLP weights in bf16 where the hardware computes bf16 natively
    and in fp32 elsewhere; attention, norms and the output layer are fp32 either way, and the run
    info says which MLP dtype ran and why. Against transformers' all-fp32 model it predicts the
    same next token, with probabilities within 0.01 in bf16 (8-bit MLP weights and products move
    them; a percentage point is what they may cost) and within 1e-5 in fp32 (the same
    computation: only the threads' order of summation may differ)."""
    from transformers import AutoModelForCausalLM

    from backend.runtime import device as devices
    from backend.runtime.gguf_convert import ensure_converted
    from backend.runtime.loaders import MLP_DTYPE_ENV, Bf16Linear, choose_mlp_dtype

    handle = get_model(SMOLLM2.key)
    dtype, why = choose_mlp_dtype(os.environ.get(MLP_DTYPE_ENV), devices.native_bf16_on(handle.device), handle.device.type)
    layer = handle.model.model.layers[0]
    assert mlp_dtype(handle) == dtype and isinstance(layer.mlp.down_proj, Bf16Linear) == (dtype == torch.bfloat16)
    assert layer.self_attn.q_proj.weight.dtype == torch.float32
    assert handle.model.lm_head.weight.dtype == torch.float32
    assert handle.precision == why and handle.run_info(0.0).device.endswith(f", {why}")
    bound = 0.01 if dtype == torch.bfloat16 else 1e-5
    reference = AutoModelForCausalLM.from_pretrained(ensure_converted(), dtype=torch.float32, attn_implementation="eager").eval()
    for prompt in ("The capital of France is", "def fibonacci(n):", "My favourite colour is"):
        ids = handle.preprocessor(prompt, return_tensors="pt")
        with torch.inference_mode(), handle.lock:
            ours = handle.model(**ids).logits[0, -1].softmax(-1)
            theirs = reference(**ids).logits[0, -1].softmax(-1)
        assert int(ours.argmax()) == int(theirs.argmax())
        assert float((ours - theirs).abs().max()) < bound, (prompt, dtype)


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
    # a separate full pass multiplies matrices of other shapes: `same_model_bound`
    full = _logits_of(stream).softmax(-1)
    difference = max(abs(s.probability - float(p[s.token_id])) for s, p in zip(steps, full, strict=True))
    assert difference < same_model_bound(handle), (difference, mlp_dtype(handle))


def test_perplexity_equals_exp_of_the_mean_negative_log_likelihood_from_a_separate_pass():
    stream = generate("Write a sentence about cats.", GenerationSettings(max_new_tokens=25, temperature=1.0, seed=5))
    steps = list(stream)
    log_probs = _logits_of(stream).log_softmax(-1)
    nll = -log_probs[torch.arange(len(steps)), torch.tensor(stream.token_ids)].mean()
    # The same probabilities from another pass (`same_model_bound`). Perplexity's relative change is
    # the change of the mean log-probability: bf16 MLPs' 8-bit rounding moves it well under 1 %,
    # fp32's last bits far under 1e-4.
    rel = 1e-2 if mlp_dtype(stream.handle) == torch.bfloat16 else 1e-4
    assert perplexity(steps) == pytest.approx(math.exp(float(nll)), rel=rel)


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
    # A full pass multiplies other shapes: with bf16 MLPs the hidden states round differently
    # (as in `same_model_bound`); in fp32 only the recording's fp16 storage differs (a weight of at
    # most 1 is stored to within 2**-12 of it).
    full = attention_of_last(handle, stream.prompt_ids + stream.token_ids[:4])
    bound = 0.01 if mlp_dtype(handle) == torch.bfloat16 else 1e-3
    assert abs(full - steps[4].attention.astype("float32")).max() < bound


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


def test_the_mlp_dtype_setting_loads_the_other_dtype_than_this_machine_s_choice(monkeypatch):
    """DASHBOARD_SMOLLM2_MLP_DTYPE overrides the hardware's choice: the model is loaded here with
    the dtype this machine did not choose. "float32" keeps SmolLM2 entirely in fp32; "bfloat16"
    puts its MLPs in bf16 and nothing else; the run info says the setting chose it. The two
    predict the same next token, with probabilities within 0.01 (what bf16 MLPs may cost against
    fp32, as in `test_smollm2_mlps_keep_token_probabilities_close_to_the_fp32_model`)."""
    from backend.runtime.loaders import LOADERS, MLP_DTYPE_ENV, Bf16Linear

    default = get_model(SMOLLM2.key)
    other = torch.float32 if mlp_dtype(default) == torch.bfloat16 else torch.bfloat16
    monkeypatch.setenv(MLP_DTYPE_ENV, str(other).removeprefix("torch."))
    forced = LOADERS[("package", "decoder")](SMOLLM2, default.device)
    assert mlp_dtype(forced) == other
    assert forced.precision == f"MLPs in {'fp32' if other == torch.float32 else 'bf16'} (set by {MLP_DTYPE_ENV})"
    mlp = forced.model.model.layers[0].mlp
    if other == torch.float32:
        assert not isinstance(mlp.up_proj, Bf16Linear)
        assert {p.dtype for p in forced.model.parameters()} == {torch.float32}
    else:
        assert all(isinstance(getattr(layer.mlp, name), Bf16Linear)
                   for layer in forced.model.model.layers for name in ("gate_proj", "up_proj", "down_proj"))
        assert forced.model.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    ids = torch.tensor([forced.preprocessor("The capital of France is")["input_ids"]])
    with torch.inference_mode(), default.lock:
        ours = default.model(input_ids=ids).logits[0, -1].softmax(-1)
        theirs = forced.model(input_ids=ids).logits[0, -1].softmax(-1)
    assert int(ours.argmax()) == int(theirs.argmax())
    assert (ours - theirs).abs().max() < 0.01
