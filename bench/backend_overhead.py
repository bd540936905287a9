"""Warm latency of each backend entry point against the plain library doing the same work.

Run: .venv/bin/python bench/backend_overhead.py
Prints, per task, the median of N runs for the dashboard's call and for the bare
transformers/timm code (same model object, same input), and their ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.attention.weights import attention  # noqa: E402
from backend.generation.in_process import generate
from backend.generation.token_steps import GenerationSettings  # noqa: E402
from backend.runtime.model_cache import get_model  # noqa: E402
from backend.runtime.registry import EFFICIENTNET, MINILM, SMOLLM2  # noqa: E402
from backend.text.classify import classify  # noqa: E402
from backend.vision.image_decoding import example_image  # noqa: E402
from backend.vision.recognition import recognise  # noqa: E402


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plain_embed(handle, texts):
    with torch.inference_mode():
        batch = handle.preprocessor(texts, padding=True, return_tensors="pt")
        hidden = handle.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    return vectors


def main() -> None:
    rows = []
    text = "This movie was wonderful, the cast is brilliant and I loved every minute."

    encoder = get_model(MINILM.key)
    from backend.text.specs import DEFAULT_LABELS
    from backend.text.zero_shot_head import descriptions_for

    descriptions = [d for label in DEFAULT_LABELS for d in descriptions_for(label)]
    rows.append(("classify (zero-shot, 2 labels)",
                 median_seconds(lambda: classify(text, ", ".join(DEFAULT_LABELS)), 20),
                 median_seconds(lambda: plain_embed(encoder, [text, *descriptions]), 20)))

    sentence = "The cat sat on the mat because it was tired."
    rows.append(("attention, MiniLM",
                 median_seconds(lambda: attention(sentence, MINILM.key), 20),
                 median_seconds(lambda: _plain_attention(encoder, sentence), 20)))
    decoder = get_model(SMOLLM2.key)
    rows.append(("attention, SmolLM2",
                 median_seconds(lambda: attention(sentence, SMOLLM2.key), 10),
                 median_seconds(lambda: _plain_attention(decoder, sentence), 10)))

    image_model = get_model(EFFICIENTNET.key)
    cat = example_image("Cat (Chelsea)")
    rows.append(("recognise (top-5)",
                 median_seconds(lambda: recognise(cat), 20),
                 median_seconds(lambda: _plain_recognise(image_model, cat), 20)))

    n_tokens = 64
    settings = GenerationSettings(max_new_tokens=n_tokens, temperature=0, chat=False)
    prompt = "Once upon a time"
    ours = median_seconds(lambda: list(generate(prompt, settings)), 3)
    plain = median_seconds(lambda: _plain_generate(decoder, prompt, n_tokens), 3)
    rows.append((f"generate ({n_tokens} tokens, streamed)", ours, plain))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {encoder.device}")
    print(f"{'task':40s} {'dashboard':>12s} {'plain lib':>12s} {'ratio':>7s}")
    for name, a, b in rows:
        print(f"{name:40s} {a * 1000:10.1f}ms {b * 1000:10.1f}ms {a / b:7.2f}")
    print(f"generation speed: dashboard {n_tokens / ours:.1f} tok/s, plain generate {n_tokens / plain:.1f} tok/s")


def _plain_attention(handle, text):
    with torch.inference_mode():
        encoded = handle.preprocessor(text, return_tensors="pt")
        output = handle.model(**encoded, output_attentions=True)
        return torch.stack(output.attentions, dim=1)[0].numpy()


def _plain_recognise(handle, image):
    with torch.inference_mode():
        return handle.model(handle.preprocessor(image).unsqueeze(0)).softmax(-1).topk(5)


def _plain_generate(handle, prompt, n_tokens):
    tokenizer = handle.preprocessor
    with torch.inference_mode():
        inputs = tokenizer(prompt, return_tensors="pt")
        output = handle.model.generate(
            **inputs, max_new_tokens=n_tokens, min_new_tokens=n_tokens, do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
        return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:])


if __name__ == "__main__":
    main()
