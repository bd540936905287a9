"""Batching pays: 16 requests arriving together, one at a time vs through the batching queue.

For each task (classification, attention, images) in the same run:
- one at a time: the plain backend call for each request, one after another;
- queued, no batching: 16 threads (16 visitors) submit at once to a queue that runs one request
  per forward pass (`max_batch=1`);
- queued, batched: the same 16 threads, the app's queue (requests within the batch wait share
  one forward pass).
It prints requests per second and the batched/one-at-a-time ratio (target for classification:
at least 3x), and checks that every batched answer equals its one-at-a-time answer.

Run: .venv/bin/python bench/batching.py [--requests 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.attention import weights as attention  # noqa: E402
from backend.runtime.registry import EFFICIENTNET, MINILM  # noqa: E402
from backend.runtime.scheduler import MAX_BATCH, Scheduler, run_now  # noqa: E402
from backend.text import classify  # noqa: E402
from backend.text.specs import SENTIMENT  # noqa: E402
from backend.vision import recognition as recognise  # noqa: E402
from backend.vision.image_decoding import EXAMPLES, example_image  # noqa: E402

SENTENCES = [
    "The film was a delight from start to finish.", "I want my money back.", "The soup was cold.",
    "Our guide was friendly and knew everything.", "The update broke my phone.", "Best pizza in town!",
    "The plot dragged on forever.", "Delivery came a day early.", "The hotel room smelled of smoke.",
    "A moving, beautifully acted story.", "Customer service never answered.", "Great value for the price.",
    "The battery dies within an hour.", "I would happily watch it again.", "Noisy, crowded and overpriced.",
    "The staff went out of their way to help.",
]


def _tasks(n: int):
    texts = [SENTENCES[i % len(SENTENCES)] + (f" ({i})" if i >= len(SENTENCES) else "") for i in range(n)]
    photos = [example_image(name) for name in EXAMPLES]
    images = [photos[i % len(photos)].rotate(3 * i) for i in range(n)]  # 16 different pictures
    return {
        "classification": (texts, lambda x: classify.classify(x)[0], classify.classify_each, lambda x: (x, SENTIMENT),
                           lambda r: np.array([s.probability for s in sorted(r.scores, key=lambda s: s.label)])),
        "attention": (texts, attention.attention, attention.attention_each, lambda x: (x, MINILM.key), lambda r: r.weights),
        "images": (images, lambda x: recognise.recognise(x, 5), recognise.recognise_each, lambda x: ((x, 5), EFFICIENTNET.key),
                   lambda r: np.array([c.probability for c in r.top])),
    }


def _together(scheduler: Scheduler, task, payloads, key: str) -> tuple[float, list]:
    jobs = [None] * len(payloads)
    go = threading.Barrier(len(payloads) + 1)

    def visitor(i: int) -> None:
        go.wait()
        jobs[i] = scheduler.submit(key, task, *payloads[i], batched=True)

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    go.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    results = [run_now(job) for job in jobs]
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="median over this many rounds")
    args = parser.parse_args()
    n = args.requests
    unbatched, batched = Scheduler(max_batch=1), Scheduler(max_batch=MAX_BATCH)
    print(f"{n} requests arriving together; median of {args.rounds} rounds; requests per second")
    print(f"{'task':<15} {'one at a time':>14} {'queued, no batch':>17} {'queued, batched':>16} {'batched / one at a time':>24} {'max |diff|':>11}")
    for name, (items, plain, runner, payload, numbers) in _tasks(n).items():
        plain(items[0]), run_now(batched.submit(name, runner, *payload(items[0]), batched=True))  # warm up
        one, queued, together, diffs = [], [], [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            alone = [plain(item) for item in items]
            one.append(time.perf_counter() - started)
            queued.append(_together(unbatched, runner, [payload(i) for i in items], name)[0])
            seconds, results = _together(batched, runner, [payload(i) for i in items], name)
            together.append(seconds)
            diffs.append(max(float(np.abs(numbers(a) - numbers(b)).max()) for a, b in zip(alone, results, strict=True)))
        rate = [n / statistics.median(t) for t in (one, queued, together)]
        print(f"{name:<15} {rate[0]:14.1f} {rate[1]:17.1f} {rate[2]:16.1f} {rate[2] / rate[0]:23.1f}x {max(diffs):11.1e}")


if __name__ == "__main__":
    main()
