import numpy as np
import pytest

from backend.attention.attention_figures import weights_heatmap
from backend.attention.matrices import head_matrix
from backend.attention.weights import attention
from backend.text.classify import classify
from backend.text.text_figures import label_probabilities
from backend.vision.image_decoding import example_image
from backend.vision.image_figures import top_classes
from backend.vision.recognition import recognise


def test_label_bars_show_every_label_most_likely_on_top():
    result = classify("This movie was wonderful", "positive, negative, neutral")[0]
    bar = label_probabilities(result).data[0]
    assert list(bar.y)[-1] == result.label  # horizontal bars are drawn bottom-up
    assert sorted(bar.y) == sorted(["positive", "negative", "neutral"])
    assert bar.text[-1] == f"{result.scores[0].probability:.1%}"


def test_top_classes_figure():
    result = recognise(example_image("Coffee cup"))
    fig = top_classes(result)
    assert list(fig.data[0].y)[::-1] == [c.label for c in result.top]
    assert "Top-5" in fig.layout.title.text


def test_heatmap_keeps_repeated_tokens_apart_and_shows_the_chosen_head():
    result = attention("the cat and the dog")
    chosen = head_matrix(result, layer=2, head=4)
    assert (chosen == result.weights[2, 4]).all()
    fig = weights_heatmap(chosen, result.tokens, "Layer 3, head 5", result.causal)
    heat = fig.data[0]
    assert len(fig.layout.xaxis.ticktext) == len(result.tokens)  # both 'the's keep a column
    assert (heat.z == np.round(chosen.astype(np.float64), 4)).all()  # drawn to 4 decimals, to keep what is sent small
    mean = head_matrix(result, layer=0, head=None)
    assert weights_heatmap(mean, result.tokens, "Layer 1", False).data[0].z.shape == (len(result.tokens),) * 2
    assert abs(mean.sum(axis=-1) - 1).max() < 1e-4
    with pytest.raises(ValueError):
        head_matrix(result, layer=99, head=0)
