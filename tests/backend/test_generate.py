import re

import pytest

from backend.errors import InputError
from backend.generate import GenerationSettings, generate
from backend.models import get_model
from backend.registry import SMOLLM2


def test_once_upon_a_time_continues_in_english_within_max_new_tokens():
    stream = generate("Once upon a time", GenerationSettings(max_new_tokens=24, temperature=0, chat=False))
    pieces = list(stream)
    text = "".join(pieces)
    assert len(pieces) > 3, "the text should arrive in several pieces"
    assert text == stream.text
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
    text = "".join(stream)
    assert "Paris" in text
    assert stream.stop_reason == "end of answer"
    assert stream.new_tokens < 40
    assert "<|im_end|>" not in text


def test_seeded_sampling_is_repeatable():
    settings = GenerationSettings(max_new_tokens=12, temperature=1.0, seed=7)
    assert "".join(generate("Tell me a story", settings)) == "".join(generate("Tell me a story", settings))


def test_closing_the_stream_early_stops_generation_and_frees_the_model():
    stream = generate("Count from one to one hundred.", GenerationSettings(max_new_tokens=300, temperature=0))
    pieces = iter(stream)
    next(pieces)
    pieces.close()
    assert stream.stop_reason == "stopped"
    assert stream.new_tokens < 50
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

    from backend.gguf_convert import ensure_converted
    from backend.loaders import Bf16Linear
    from backend.models import get_model
    from backend.registry import SMOLLM2

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
