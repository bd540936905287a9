"""Looking inside a generation: the logit lens and where a token looked."""

import numpy as np
import pytest
import torch

from backend.generation.in_process import generate
from backend.generation.logit_lens import logit_lens
from backend.generation.look_back import attribution, look_back
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import InputError
from backend.runtime.model_cache import get_model
from backend.runtime.registry import SMOLLM2


@pytest.fixture(scope="module")
def paris():
    stream = generate("What is the capital of France?", GenerationSettings(max_new_tokens=20, temperature=0))
    steps = list(stream)
    step = next(s for s in steps if "Paris" in s.text)
    return stream, steps, step


def test_the_logit_lens_last_layer_is_the_models_own_prediction(paris):
    stream, steps, step = paris
    lens = logit_lens(SMOLLM2.key, stream.prompt_ids, stream.token_ids, step.index)
    assert lens.n_layers == get_model(SMOLLM2.key).model.config.num_hidden_layers
    assert lens.steps[lens.selected] == step.index and lens.steps == list(range(len(steps)))[: len(lens.steps)]
    # greedy: the last layer's top token is the chosen one, with the step's own probability
    assert lens.top_tokens[-1] == [steps[i].text for i in lens.steps]
    assert (lens.chosen_ranks[-1] == 1).all()
    # exactly the model's own output for the same tokens
    handle = get_model(SMOLLM2.key)
    with handle.lock, torch.inference_mode():
        ids = torch.tensor([stream.prompt_ids + stream.token_ids[: lens.steps[-1]]])
        probs = handle.model(input_ids=ids).logits[0].float().softmax(-1)
    for column, i in enumerate(lens.steps):
        position = stream.prompt_tokens + i - 1
        assert lens.chosen_probabilities[-1, column] == pytest.approx(float(probs[position, stream.token_ids[i]]), abs=1e-5)
    # the answer is not known from the start: early layers rank " Paris" far lower
    assert lens.chosen_ranks[:5, lens.selected].min() > 1
    assert ((lens.chosen_probabilities >= 0) & (lens.chosen_probabilities <= 1)).all()


def test_where_a_token_looked_covers_the_context_and_rows_sum_to_one(paris):
    stream, _, step = paris
    seen = look_back(SMOLLM2.key, stream.prompt_ids, stream.token_ids, step.index)
    assert len(seen.tokens) == stream.prompt_tokens + step.index and seen.n_prompt == stream.prompt_tokens
    assert seen.target == step.text
    assert np.allclose(seen.attention.sum(-1), 1, atol=1e-4)


def test_integrated_gradients_credit_france_for_paris_and_add_up(paris):
    stream, _, step = paris
    question = "What is the capital of France?"
    scores, positions = attribution(SMOLLM2.key, stream.prompt_ids, stream.token_ids, step.index, question)
    tokens = get_model(SMOLLM2.key).preprocessor.convert_ids_to_tokens(stream.prompt_ids + stream.token_ids[: step.index])
    # only the question's tokens and the answer so far, not the chat template
    assert [tokens[p] for p in positions[:7]] == ["What", "Ġis", "Ġthe", "Ġcapital", "Ġof", "ĠFrance", "?"]
    assert positions[7:] == list(range(stream.prompt_tokens, stream.prompt_tokens + step.index))
    ranked = [tokens[positions[i]] for i in np.argsort(-scores.scores)]
    assert ranked[0] == "Ġcapital" and "ĠFrance" in ranked[:5], ranked
    # completeness against p(" Paris" | context) from the stream and p(" Paris" | baseline) from a
    # plain forward pass here, the user's words and the answer so far all replaced by " the"
    handle = get_model(SMOLLM2.key)
    context = [*stream.prompt_ids, *stream.token_ids[: step.index]]
    the = handle.preprocessor(" the", add_special_tokens=False)["input_ids"][0]
    baseline = [the if i in positions else token for i, token in enumerate(context)]
    with handle.lock, torch.inference_mode():
        p_baseline = float(handle.model(input_ids=torch.tensor([baseline])).logits[0, -1].float().softmax(-1)[step.token_id])
    assert scores.baseline_probability == pytest.approx(p_baseline, abs=1e-5)
    change = step.probability - p_baseline
    # at 32 steps the shares overshoot by 0.12 (measured); Captum's delta must say so
    assert abs(scores.scores.sum() - change) == pytest.approx(scores.delta, abs=2e-3)
    assert scores.delta < 0.15
    finer, _ = attribution(SMOLLM2.key, stream.prompt_ids, stream.token_ids, step.index, question, steps=128)
    # fp32 MLPs: 1.3e-5 measured; bf16 MLPs round every gradient on the path to 8 bits: 0.005
    # measured on AMX, 0.010 on an EPYC with AVX-512-BF16 (0.005 there at 256 steps)
    bf16 = handle.model.model.layers[0].mlp.gate_proj.weight.dtype == torch.bfloat16
    assert finer.scores.sum() == pytest.approx(change, abs=0.02 if bf16 else 1e-3)
    assert abs(finer.scores.sum() - change) < abs(scores.scores.sum() - change) / 4  # 4x the steps, far closer


def test_a_step_that_does_not_exist_is_a_clear_message(paris):
    stream, _, _ = paris
    with pytest.raises(InputError, match="There is no step 99"):
        logit_lens(SMOLLM2.key, stream.prompt_ids, stream.token_ids, 98)
