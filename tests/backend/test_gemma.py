"""Gemma 3 270M, the decoder that reads Chinese: converted once from its four chunk packages,
generating what transformers' own `generate` does, together with others as alone, within the
window where every layer sees every token, and explained as SmolLM2 is (logit lens, where it
looked, Integrated Gradients adding up; the step-through in test_attention_steps.py)."""

import numpy as np
import pytest
import torch

from backend.attention.tokenizing import cut
from backend.generation.in_process import generate, submit_generate
from backend.generation.logit_lens import logit_lens
from backend.generation.look_back import attribution, look_back
from backend.generation.token_steps import GenerationSettings
from backend.runtime import gguf_convert
from backend.runtime.errors import InputError
from backend.runtime.model_cache import get_model
from backend.runtime.registry import GEMMA3, MINILM, SMOLLM2, models_for
from backend.runtime.scheduler import run_now

SENTENCE = "我爱学习编程，因为它很有趣。"  # 14 characters
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0, chat=False)


def test_gemma_is_converted_once_from_its_chunk_packages_and_kept_in_bf16(monkeypatch):
    folder = gguf_convert.ensure_converted(gguf_convert.GEMMA3_GGUF)
    assert folder.name == "gemma-3-270m-1.0.0-bf16" and (folder / "conversion-complete").is_file()
    weights = folder / "model.safetensors"
    assert 500e6 < weights.stat().st_size < 600e6  # 268 M parameters in bf16 (fp32 would be 1.07 GB)
    assert not list(folder.rglob("*.gguf")), "the joined GGUF file is only the conversion's input"

    def no_second_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_convert, "_convert", no_second_conversion)
    assert gguf_convert.ensure_converted(gguf_convert.GEMMA3_GGUF) == folder
    # ...and it is offered beside SmolLM2, after it: no page opens with it
    assert [m.key for m in models_for("generation")][:2] == [SMOLLM2.key, GEMMA3.key]
    assert [m.key for m in models_for("attention")][:3] == [MINILM.key, SMOLLM2.key, GEMMA3.key]


def test_chinese_words_are_whole_tokens_where_the_other_models_split_or_lose_them():
    cuts = {key: cut(key, SENTENCE) for key in (MINILM.key, SMOLLM2.key, GEMMA3.key)}
    assert (cuts[MINILM.key].count, cuts[MINILM.key].unknown) == (14, 9)
    assert (cuts[SMOLLM2.key].count, cuts[SMOLLM2.key].unknown) == (28, 0)
    gemma = cuts[GEMMA3.key]
    assert (gemma.count, gemma.unknown) == (9, 0)
    assert gemma.tokens == ("我", "爱", "学习", "编程", "，", "因为它", "很有", "趣", "。")


def test_gemma_generates_what_transformers_generates_with_the_same_probabilities():
    stream = generate("人工智能是", GREEDY, GEMMA3.key)
    steps = list(stream)
    assert all("\ufffd" not in step.text for step in steps) and any(len(step.text) >= 2 for step in steps)
    handle = get_model(GEMMA3.key)
    with handle.lock, torch.inference_mode():
        ids = torch.tensor([stream.prompt_ids])
        out = handle.model.generate(input_ids=ids, max_new_tokens=12, do_sample=False, output_scores=True,
                                    return_dict_in_generate=True)
    assert stream.token_ids == out.sequences[0, ids.shape[1]:].tolist()
    library = [float(score[0].softmax(-1)[token]) for score, token in zip(out.scores, stream.token_ids, strict=True)]
    assert [step.probability for step in steps] == pytest.approx(library, abs=1e-5)
    assert stream.run.device.endswith("weights stored in bf16, computed in fp32")


def test_gemma_rows_decoded_together_get_what_each_gets_alone():
    prompts = ["人工智能是", "The capital of France is", "我爱学习编程，因为"]
    alone = []
    for prompt in prompts:
        stream = generate(prompt, GREEDY, GEMMA3.key)
        list(stream)
        alone.append(stream.token_ids)
    jobs = [submit_generate(prompt, GREEDY, GEMMA3.key) for prompt in prompts]
    together = [run_now(job) for job in jobs]
    assert max(job.batch_size for job in jobs) >= 2
    assert [stream.token_ids for stream in together] == alone


def test_a_prompt_past_the_sliding_window_is_refused_with_the_numbers():
    with pytest.raises(InputError, match="window of 512 tokens. Lower max new tokens to at most"):
        generate("人工智能 " * 150, GenerationSettings(max_new_tokens=256, chat=False), GEMMA3.key)
    with pytest.raises(InputError, match="reads at most 511 here"):  # the prompt alone, and one token to answer
        generate("人工智能 " * 300, GenerationSettings(max_new_tokens=8, chat=False), GEMMA3.key)


def test_the_logit_lens_where_it_looked_and_integrated_gradients_on_gemma():
    prompt = "The capital of France is"
    stream = generate(prompt, GenerationSettings(max_new_tokens=4, temperature=0, chat=False), GEMMA3.key)
    steps = list(stream)
    step = steps[1]  # " capital": after " the"
    lens = logit_lens(GEMMA3.key, stream.prompt_ids, stream.token_ids, step.index)
    assert lens.n_layers == 18 and lens.top_tokens[-1] == [s.text for s in steps][: len(lens.steps)]
    assert (lens.chosen_ranks[-1] == 1).all() and lens.chosen_ranks[:6, lens.selected].min() > 1
    seen = look_back(GEMMA3.key, stream.prompt_ids, stream.token_ids, step.index)
    assert seen.attention.shape[:2] == (18, 4) and np.allclose(seen.attention.sum(-1), 1, atol=1e-4)
    scores, positions = attribution(GEMMA3.key, stream.prompt_ids, stream.token_ids, step.index, prompt, steps=64)
    assert positions[0] == 1  # after <bos>: the visitor's words, and the answer so far
    # completeness: the shares add up to p(token) - p(baseline), as Captum's delta says
    assert abs(scores.scores.sum() - (step.probability - scores.baseline_probability)) == pytest.approx(scores.delta, abs=2e-3)
    assert scores.delta < 0.05
