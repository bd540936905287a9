"""Explanations of the classifier, their faithfulness, and the batch evaluation (real model)."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.runtime.errors import InputError
from backend.runtime.model_cache import get_model
from backend.runtime.registry import MINILM
from backend.text.classifiers import resolve
from backend.text.classify import classify
from backend.text.encoder import class_probabilities
from backend.text.evaluation import MAX_ROWS, align_labels, evaluate, read_table
from backend.text.explain_text import explain_text
from backend.shared.sentiment_data import HELDOUT_FILE, read_rows
from backend.text.specs import SENTIMENT, zero_shot
from backend.text.text_figures import (
    attribution_bars,
    confusion_heatmap,
    deletion_curves,
    tokens_html,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def _p_positive(ids: list[int]) -> float:
    """p(positive) for token ids, by one plain forward pass (not through the explanation code)."""
    handle = get_model(MINILM.key)
    with handle.lock, torch.inference_mode():
        classifier = resolve(handle, SENTIMENT)
        tensor = torch.tensor([ids])
        return float(class_probabilities(handle, classifier, tensor, torch.ones_like(tensor))[0, classifier.labels.index("positive")])


def test_integrated_gradients_add_up_to_the_change_in_probability():
    text = "The movie was great"
    found = explain_text(text, SENTIMENT, methods=("ig", "loo", "gxi"))
    ig = found.attribution("ig")
    assert found.target == found.predicted == "positive"
    tokenizer = get_model(MINILM.key).preprocessor
    ids = tokenizer(text)["input_ids"]
    baseline = [ids[0], *[tokenizer.pad_token_id] * (len(ids) - 2), ids[-1]]  # every word [PAD], markers kept
    p_text = next(s.probability for s in classify(text)[0].scores if s.label == "positive")
    p_baseline = _p_positive(baseline)
    assert ig.baseline_probability == pytest.approx(p_baseline, abs=1e-5)
    assert ig.scores.sum() == pytest.approx(p_text - p_baseline, abs=0.005)  # completeness, 32 steps
    assert ig.delta < 0.005
    assert found.tokens == ["the", "movie", "was", "great"]
    assert found.tokens[int(np.argmax(ig.scores))] == "great"
    assert ig.scores.max() > 0
    loo = found.attribution("loo")
    assert found.tokens[int(np.argmax(loo.scores))] == "great"


def test_sufficiency_is_the_mean_drop_when_only_the_top_tokens_are_kept():
    text = "The plot was thin but the acting was wonderful and moving"
    found = explain_text(text, SENTIMENT, target="positive", methods=("ig",))
    ids = get_model(MINILM.key).preprocessor(text)["input_ids"]
    content = ids[1:-1]
    ranked = np.argsort(-found.attribution("ig").scores, kind="stable")
    full = _p_positive(ids)
    drops = []
    for fraction in (0.01, 0.05, 0.10, 0.20, 0.50):
        top = sorted(ranked[: max(1, math.ceil(fraction * len(content)))])
        drops.append(full - _p_positive([ids[0], *[content[i] for i in top], ids[-1]]))
    measured = next(f for f in found.faithfulness if f.name == "Integrated Gradients")
    assert measured.sufficiency == pytest.approx(float(np.mean(drops)), abs=1e-5)


def test_any_label_can_be_explained_and_the_signs_flip():
    toward = explain_text("The movie was great", SENTIMENT, "positive", ("ig",)).attribution("ig")
    away = explain_text("The movie was great", SENTIMENT, "negative", ("ig",)).attribution("ig")
    # p(negative) = 1 - p(positive): the same path integral with the opposite sign.
    assert np.allclose(toward.scores, -away.scores, atol=max(toward.delta, away.delta) + 1e-4)
    with pytest.raises(InputError, match="not one of this classifier's labels"):
        explain_text("The movie was great", SENTIMENT, "neutral")


def test_zero_shot_and_more_steps():
    spec = zero_shot("sports, business")
    few = explain_text("Messi scored twice in the final.", spec, methods=("ig",), steps=4).attribution("ig")
    many = explain_text("Messi scored twice in the final.", spec, methods=("ig",), steps=128).attribution("ig")
    assert many.delta < few.delta or many.delta < 1e-3
    with pytest.raises(InputError, match="steps"):
        explain_text("Messi", spec, steps=0)
    with pytest.raises(InputError, match="Methods"):
        explain_text("Messi", spec, methods=("magic",))


def test_ig_deletes_better_than_random_over_held_out_sentences():
    """Over every sixth held-out sentence (105, spread over the whole file), deleting IG's top
    tokens first lowers the predicted label's probability far faster than a random order, and
    does so for nearly every sentence, not only on average. The averages over the whole file, with
    leave one out and gradient x input beside them, come from `bench/explain.py`
    (bench/RESULTS.md); measured there: deletion area 0.43 vs 0.72, comprehensiveness 0.34 vs 0.06."""
    rows = read_rows(HELDOUT_FILE)[::6]
    assert len(rows) == 105
    ig_area, random_area, ig_comp, random_comp = [], [], [], []
    for row in rows:
        found = explain_text(row.text, SENTIMENT, methods=("ig",), steps=16)
        ig, random = found.faithfulness
        ig_area.append(ig.deletion_area)
        random_area.append(random.deletion_area)
        ig_comp.append(ig.comprehensiveness)
        random_comp.append(random.comprehensiveness)
    ig_area, random_area = np.array(ig_area), np.array(random_area)
    assert ig_area.mean() < random_area.mean() - 0.15
    assert np.mean(ig_comp) > np.mean(random_comp) + 0.15
    assert (ig_area < random_area).mean() >= 0.85


def test_figures_and_escaped_tokens():
    found = explain_text("<img src=x onerror=alert(1)> was great", SENTIMENT, methods=("ig", "loo"))
    html = tokens_html(found.tokens, found.attribution("ig").scores)
    assert "<img" not in html and "&lt;" in html
    bars = attribution_bars(found, "ig")
    assert len(bars.data[0].x) == len(found.tokens)
    curves = deletion_curves(found)
    assert [t.name.split(" (")[0] for t in curves.data] == ["Integrated Gradients", "Leave one out", "Random order"]


def test_a_strangers_label_in_the_figures_axis_titles_is_text():
    """Plotly draws <a href> in a title as a live link: a zero-shot or taught label is a stranger's."""
    label = '<a href="https://evil.example/h">h</a>'
    found = replace(explain_text("The film was great", SENTIMENT, methods=("ig",), steps=4), target=label)
    titles = [attribution_bars(found, "ig").layout.xaxis.title.text, deletion_curves(found).layout.yaxis.title.text]
    assert titles == ['effect on p(&lt;a href="https://evil.example/h"&gt;h&lt;/a&gt;)',
                      'p(&lt;a href="https://evil.example/h"&gt;h&lt;/a&gt;)']


def test_metrics_equal_scikit_learn_on_a_labelled_csv():
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    table = read_table((DATA / "labelled_reviews.csv").read_bytes())
    results = classify(table.frame["review"].tolist(), SENTIMENT)
    predicted = [r.label for r in results]
    gold, notes = align_labels(table.frame["sentiment"].tolist(), ["positive", "negative"])
    assert "Positive" not in gold and "'neutral'" in notes[0]
    ours = evaluate(gold, predicted, ["positive", "negative"])
    kept = [(g, p) for g, p in zip(gold, predicted, strict=True) if g]
    y_true, y_pred = [g for g, _ in kept], [p for _, p in kept]
    assert ours.n == 13  # the row without a label is left out
    assert ours.labels == ["positive", "negative", "neutral"]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ours.labels, zero_division=0)
    assert ours.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert np.allclose(ours.precision, p) and np.allclose(ours.recall, r) and np.allclose(ours.f1, f)
    assert (ours.support == s).all()
    assert ours.macro_f1 == pytest.approx(f1_score(y_true, y_pred, labels=ours.labels, average="macro", zero_division=0))
    assert (ours.confusion == confusion_matrix(y_true, y_pred, labels=ours.labels)).all()
    assert ours.accuracy >= 10 / 13
    heatmap = confusion_heatmap(ours)
    assert list(heatmap.data[0].x) == ours.labels
    assert ours.as_dict()["confusion_matrix"]["labels"] == ours.labels


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n  ", "empty"),
        (b"PK\x03\x04binary-zip", "not a text CSV"),
        (b"\x00\x01\x02text", "not a text CSV"),
        (b"%PDF-1.7\n1 0 obj", "not a text CSV"),
        (b"text,label\n", "header but no rows"),
        (b'text,label\n"unclosed,quote\n', "Could not read"),
        (("text\n" + "row\n" * (MAX_ROWS + 1)).encode(), "at most 2,000"),
    ],
)
def test_bad_csv_files_get_clear_messages(data, message):
    with pytest.raises(InputError, match=message):
        read_table(data)


def test_csv_reading_notes_encoding_and_delimiter():
    table = read_table("text;label\nCafé crème;positive\n".encode("cp1252"))
    assert table.frame["text"][0] == "Café crème"
    assert any("not UTF-8" in n for n in table.notes) and any("';'" in n for n in table.notes)
    assert read_table("\ufefftext,label\nok,positive\n".encode()).frame.columns[0] == "text"


def test_explanations_leave_no_hooks_on_the_shared_model():
    from backend.runtime.model_cache import get_model

    embeddings = get_model(SENTIMENT.model_key).model.get_input_embeddings()
    hooks = lambda: (len(embeddings._forward_hooks), len(embeddings._forward_pre_hooks), len(embeddings._backward_hooks))  # noqa: E731
    before = hooks()  # the model cache's own checkpoint pre-hook
    for text in ("Good.", "Bad service.", "An ok film with a great ending."):
        explain_text(text, SENTIMENT, methods=("ig", "gxi", "loo"))
    with pytest.raises(InputError):
        explain_text("x" * 30_000, SENTIMENT)  # refused before any hook is registered
    assert hooks() == before and before[0] == before[2] == 0


def test_a_csv_over_5_mb_is_refused_and_one_just_under_is_read():
    row = b"x" * 4990 + b",positive\n"
    under = b"text,label\n" + row * 1000  # 5.0 MB, 1000 rows
    assert len(under) <= 5 * 1024 * 1024
    assert len(read_table(under).frame) == 1000
    over = under + row * 50
    assert len(over) > 5 * 1024 * 1024
    with pytest.raises(InputError, match="the limit is 5 MB"):
        read_table(over)
