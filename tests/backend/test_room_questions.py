"""Each page's question for the room, built from a real model answer: its choices carry the
model's own probabilities, the model's first choice is the one the page shows, and the reveal's
numbers (matched, overlap) are computed from them."""

from __future__ import annotations

import io

import numpy as np
import pytest

from backend.attention.weights import attention
from backend.generation.in_process import generate
from backend.generation.token_steps import GenerationSettings
from backend.room.questions import (Question, Tally, attention_question, class_question, label_question,
                                    next_token_question)
from backend.text.classify import classify
from backend.vision.image_decoding import example_image
from backend.vision.recognition import recognise


def test_classification_question_carries_the_classifiers_probabilities():
    answer = classify("What a wonderful film, I loved every minute")[0]
    q = label_question("Positive or negative?", answer.text, [s.label for s in answer.scores],
                       [s.probability for s in answer.scores])
    assert q.choices[q.model_choice] == answer.label == "positive"
    assert dict(zip(q.choices, q.model)) == {s.label: s.probability for s in answer.scores}
    assert Question.from_json(q.to_json()) == q


def test_next_token_question_holds_the_models_top_candidates_and_plausible_others():
    step = next(iter(generate("The capital of France is", GenerationSettings(max_new_tokens=1, temperature=0, chat=False))))
    ranked = [(c.text, c.probability) for c in step.before]
    q = next_token_question("What comes next?", "The capital of France is", ranked)
    assert len(q.choices) == 6 and q.free_text
    assert q.choices[q.model_choice] == " ".join(step.text.split())  # greedy: the model's first choice was drawn
    probability = {" ".join(t.split()): p for t, p in ranked}
    for choice, p in zip(q.choices, q.model):
        assert p == pytest.approx(probability[choice], abs=1e-9)
    assert {" ".join(t.split()) for t, _ in ranked[:4]} <= set(q.choices)
    # the same answer asked again is the same question, in the same order
    assert next_token_question("What comes next?", "The capital of France is", ranked) == q
    # a typed guess: a choice, or another token the model ranked, with its probability
    assert q.probability_of(f"  {q.choices[0].upper()} ") == q.model[0]
    unchosen = [(t, p) for t, p in ranked if " ".join(t.split()) not in q.choices]
    assert unchosen and q.probability_of(unchosen[0][0]) == pytest.approx(unchosen[0][1])
    assert q.probability_of("zebra-crossing") is None
    assert Question.from_json(q.to_json()) == q


def test_image_question_shows_the_photo_and_real_class_probabilities():
    image = example_image("Cat (Chelsea)")
    result = recognise(image, top_k=20)
    buffer = io.BytesIO()
    image.convert("RGB").resize((224, 224)).save(buffer, format="JPEG", quality=80)
    q = class_question("What is in this photo?", [(c.label, c.probability) for c in result.top], buffer.getvalue())
    assert len(q.choices) == 6 and q.image.startswith(b"\xff\xd8")
    assert q.choices[q.model_choice] == result.label
    found = {c.label: c.probability for c in result.top}
    assert all(found[c] == p for c, p in zip(q.choices, q.model))
    assert {c.label for c in result.top[:3]} <= set(q.choices)


def test_attention_question_asks_which_token_the_head_looks_at_most():
    result = attention("The cat sat on the mat because it was warm")
    layer, head, query = 2, 3, result.tokens.index("it")
    row = result.weights[layer, head, query]
    q = attention_question("Which word does 'it' look at most?", result.tokens, row.tolist())
    assert len(q.choices) <= 6
    assert q.choices[q.model_choice] == result.tokens[int(np.argmax(row))]
    weight = {}
    for token, w in zip(result.tokens, row.tolist()):
        weight[token] = weight.get(token, 0.0) + w
    assert all(weight[c] == pytest.approx(p) for c, p in zip(q.choices, q.model))


def test_the_reveals_numbers():
    tally = Tally(counts=(6, 3, 1, 0), model=(0.5, 0.2, 0.05, 0.05), model_choice=0, others=2, typed=("x",))
    assert tally.answered == 12 and tally.matched == 6
    assert tally.shares == (0.6, 0.3, 0.1, 0.0)
    assert tally.model_shares == pytest.approx((0.625, 0.25, 0.0625, 0.0625))
    assert tally.overlap == pytest.approx(0.6 + 0.25 + 0.0625 + 0.0)  # sum of the smaller share of each choice
    assert Tally(counts=(0, 0), model=(0.9, 0.1), model_choice=0).overlap is None


def test_questions_refuse_what_a_phone_could_not_show():
    with pytest.raises(ValueError):
        Question("classification", "?", "", ("only one",), (1.0,))
    with pytest.raises(ValueError):
        Question("poll", "?", "", ("a", "b"), (0.5, 0.5))
    q = label_question("?", "x" * 5000, ["a" * 100, "b"], [0.3, 0.7])
    assert len(q.context) == 600 and len(q.choices[0]) == 40 and q.choices[0].endswith("…")
