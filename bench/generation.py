"""Generation speed: the dashboard's step-by-step stream against transformers' plain `generate`,
and llama.cpp's server on the same weights, all greedy on the same prompt, in one run.

Run: .venv/bin/python bench/generation.py [--tokens 64] [--runs 3] [--no-server]
Rows (tokens/s, median of the runs; ratio = row / plain generate):
- plain `model.generate` on the dashboard's loaded SmolLM2 (the same model object)
- the dashboard's stream recording each step's top alternatives, entropy and rank
- the same with attention recorded at every step
- the same stream through the model's queue, as the page runs it (a worker thread)
- llama.cpp's OpenAI-compatible server (llama-cpp-python) on the GGUF the model comes from,
  streamed with per-token logprobs (as the page asks for them), and without logprobs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.generation.in_process import generate, submit_generate
from backend.generation.token_steps import GenerationSettings  # noqa: E402
from backend.runtime.model_cache import get_model  # noqa: E402
from backend.runtime.registry import SMOLLM2  # noqa: E402
from backend.runtime.scheduler import run_now  # noqa: E402

PROMPT = "Once upon a time"


def tokens_per_second(fn, runs: int) -> float:
    """Median tokens/s of `fn()`, which returns how many tokens it generated."""
    fn()  # warm-up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates)


def plain_generate(n_tokens: int) -> int:
    handle = get_model(SMOLLM2.key)
    with handle.lock, torch.inference_mode():
        inputs = handle.preprocessor(PROMPT, return_tensors="pt")
        output = handle.model.generate(
            **inputs, max_new_tokens=n_tokens, min_new_tokens=n_tokens, do_sample=False,
            temperature=None, top_p=None, top_k=None, pad_token_id=handle.preprocessor.eos_token_id,
        )
    return int(output.shape[1] - inputs["input_ids"].shape[1])


def dashboard(n_tokens: int, attention: bool = False) -> int:
    settings = GenerationSettings(max_new_tokens=n_tokens, temperature=0, chat=False, record_attention=attention)
    return len(list(generate(PROMPT, settings)))


def dashboard_queued(n_tokens: int) -> int:
    settings = GenerationSettings(max_new_tokens=n_tokens, temperature=0, chat=False)
    return run_now(submit_generate(PROMPT, settings)).new_tokens


def server_stream(url: str, n_tokens: int) -> int:
    from backend.generation.engines import Engine
    from backend.generation.openai_engine import RemoteStream

    stream = RemoteStream(PROMPT, GenerationSettings(max_new_tokens=n_tokens, temperature=0, chat=False), Engine.at(url))
    return len(list(stream))


def server_plain(url: str, n_tokens: int) -> int:
    answer = requests.post(f"{url}/completions", json={"prompt": PROMPT, "max_tokens": n_tokens, "temperature": 0}, timeout=120).json()
    return int(answer["usage"]["completion_tokens"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    n, runs = args.tokens, args.runs
    get_model(SMOLLM2.key)
    # Interleave the in-process rows (plain first and last) so drift in machine speed shows up.
    plain = tokens_per_second(lambda: plain_generate(n), runs)
    rows = [
        ("dashboard stream + alternatives", tokens_per_second(lambda: dashboard(n), runs)),
        ("  + attention recorded", tokens_per_second(lambda: dashboard(n, attention=True), runs)),
        ("  through the queue (as the page)", tokens_per_second(lambda: dashboard_queued(n), runs)),
    ]
    plain_again = tokens_per_second(lambda: plain_generate(n), runs)
    plain = (plain + plain_again) / 2
    if not args.no_server:
        from backend.generation import llama_server

        with llama_server.running(logprobs=True) as url:
            rows.append(("llama.cpp server, streamed + logprobs", tokens_per_second(lambda: server_stream(url, n), runs)))
        with llama_server.running(logprobs=False) as url:
            rows.append(("llama.cpp server, no logprobs", tokens_per_second(lambda: server_plain(url, n), runs)))
    print(f"SmolLM2-135M, greedy, {n} new tokens after {PROMPT!r}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'engine':40s} {'tokens/s':>9s} {'vs plain':>9s}")
    print(f"{'transformers generate (plain)':40s} {plain:9.1f} {1.0:9.2f}   (first {plain * 2 - plain_again:.1f}, last {plain_again:.1f})")
    for name, rate in rows:
        print(f"{name:40s} {rate:9.1f} {rate / plain:9.2f}")


if __name__ == "__main__":
    main()
