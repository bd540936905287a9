"""Explanation speed and faithfulness on the classification page's default classifier.

1. Integrated Gradients for a 32-token sentence, 32 steps run as batches (what the page does),
   against Captum's IG with its default settings (50 steps, all in one pass) on the same
   model and sentence: median seconds of 7 runs each, and the ratio.
2. Faithfulness averaged over the held-out sentences: deletion area, comprehensiveness and
   sufficiency for Integrated Gradients, leave one out, gradient x input and a random order.

Run: .venv/bin/python bench/explain.py [--sentences N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import backend  # noqa: E402, F401  # hides triton on CPU before torchvision loads
from backend.runtime.model_cache import get_model  # noqa: E402
from backend.shared.token_attributions import integrated_gradients, pad_baseline  # noqa: E402
from backend.text.classifiers import resolve
from backend.text.encoder import class_probabilities
from backend.text.explain_text import explain_text  # noqa: E402
from backend.shared.sentiment_data import HELDOUT_FILE, read_rows  # noqa: E402
from backend.text.specs import SENTIMENT  # noqa: E402
from bench.backend_overhead import median_seconds  # noqa: E402

RUNS = 7

SENTENCE = (
    "The first half drags and the jokes rarely land, but the final act is moving, "
    "the music is gorgeous and the two leads are wonderful together."
)


def speed() -> None:
    from captum.attr import LayerIntegratedGradients

    handle = get_model(SENTIMENT.model_key)
    ids = handle.preprocessor(SENTENCE)["input_ids"]
    print(f"sentence: {len(ids)} tokens (with [CLS] and [SEP])")
    classifier = resolve(handle, SENTIMENT)
    tensor = torch.tensor([ids])
    mask = torch.ones_like(tensor)
    content = list(range(1, len(ids) - 1))
    baseline = pad_baseline(handle, tensor, content)

    def forward(input_ids, attention_mask):
        return class_probabilities(handle, classifier, input_ids, attention_mask)

    def captum_default():
        explainer = LayerIntegratedGradients(forward, handle.model.get_input_embeddings())
        explainer.attribute(tensor, baselines=baseline, target=0, additional_forward_args=(mask,))

    def page_ig():
        return integrated_gradients(handle, forward, tensor, 0, content, steps=32)

    ours = median_seconds(page_ig, RUNS)
    theirs = median_seconds(captum_default, RUNS)
    whole = median_seconds(lambda: explain_text(SENTENCE, SENTIMENT, "positive", ("ig", "loo"), 32), RUNS)
    print(f"page's IG (Captum, 32 steps in batches): median {ours:.3f} s, convergence delta {page_ig().delta:.1e}")
    print(f"Captum IG, default settings (50 steps, one pass): median {theirs:.3f} s")
    print(f"ratio Captum default / page: {theirs / ours:.2f}x")
    print(f"the page's whole explanation (IG + leave one out + faithfulness of both and random): median {whole:.3f} s")


def faithfulness(limit: int | None) -> None:
    rows = read_rows(HELDOUT_FILE)[:limit] if limit else read_rows(HELDOUT_FILE)
    totals: dict[str, list[tuple[float, float, float]]] = {}
    started = time.perf_counter()
    for row in rows:
        found = explain_text(row.text, SENTIMENT, None, ("ig", "loo", "gxi"), 32)
        for m in found.faithfulness:
            totals.setdefault(m.name, []).append((m.deletion_area, m.comprehensiveness, m.sufficiency))
    print(f"\nfaithfulness over {len(rows)} held-out sentences ({time.perf_counter() - started:.0f} s), "
          "toward the predicted label:")
    print(f"{'order':24} {'deletion area (lower better)':>29} {'comprehensiveness (higher)':>27} {'sufficiency (lower)':>20}")
    for name, values in totals.items():
        area, comp, suff = np.mean(values, axis=0)
        print(f"{name:24} {area:29.3f} {comp:27.3f} {suff:20.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=None, help="held-out sentences to average over (default: all)")
    args = parser.parse_args()
    torch.manual_seed(0)
    speed()
    faithfulness(args.sentences)
