"""How fast the "How it learns" page trains: the default run alone, the same loop written plainly
in PyTorch in the same process, and twelve visitors' runs submitted at once through the scheduler.

Prints: the default run's time through `backend.learning.toy_training.train` (snapshots, boundary
grids, per-epoch losses included) against a bare PyTorch loop of the same network, data, batches
and epochs (ratio), the gaps between its snapshots (the page redraws from the newest one every
0.15 s), and for rooms of 12 and 24 visitors pressing Train at once: p50 / p95 time to the last
snapshot, and p95 ÷ alone. The runs under way train together (one loop; runs of one shape in one
stack, `backend/learning/toy_stack.py`): the rooms are the same settings (one shared run), different
seeds, data sets, noise and learning rates (one shape), each visitor a different width (twelve
shapes, the worst case), and a class trying presets. Targets from issue 29: alone ≤ 3 s, updates ≥ 5 per second,
twelve at once p95 ≤ 3× alone.

Run: .venv/bin/python bench/learn.py
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.learning.toy_training import PRESETS, ToySettings, build_network, data_of, final, preset, submit_training, train  # noqa: E402
from backend.runtime.scheduler import run_now  # noqa: E402


def plain_loop(settings: ToySettings) -> float:
    """The same training, nothing else: no snapshots, no evaluation per epoch (one intra-op
    thread, as the page's training uses)."""
    torch.set_num_threads(1)
    data = data_of(settings)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).float()
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    network = build_network(settings)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    for _ in range(settings.epochs):
        order = torch.randperm(len(x))
        for first in range(0, len(order), settings.batch_size):
            batch = order[first : first + settings.batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(network(x[batch]).squeeze(-1), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    settings = ToySettings()
    print(f"CPU: {torch.backends.cpu.get_cpu_capability()}, torch threads {torch.get_num_threads()}")
    final(settings)  # the process's first-call costs, as a server's warm start pays them
    plain_loop(settings)
    alone, plain, gaps = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        seen = []
        for _snapshot in train(settings):
            seen.append(time.perf_counter())
        alone.append(time.perf_counter() - started)
        gaps += [b - a for a, b in zip(seen, seen[1:])]
        plain.append(plain_loop(settings))
    best, bare = min(alone), min(plain)
    print(f"default run (2 x 8 tanh, 500 points, 300 epochs): {best:.2f} s through the page's training "
          f"(best of 3), {bare:.2f} s as a bare PyTorch loop: {best / bare:.2f}x")
    print(f"snapshots: {len(seen)} per run, median gap {statistics.median(gaps) * 1000:.0f} ms, "
          f"longest {max(gaps) * 1000:.0f} ms ({1 / statistics.median(gaps):.0f} updates/s available)")
    datasets = ("circles", "xor", "spirals", "blobs")
    rooms = {
        "the same settings (one shared run)": [settings] * 12,
        "different seeds, data sets, noise and learning rates (one shape)": [
            replace(settings, seed=i, dataset=datasets[i % 4], noise=0.05 * (i % 3), learning_rate=0.01 * (1 + i % 5))
            for i in range(12)],
        "24, different seeds, data sets, noise and learning rates (one shape)": [
            replace(settings, seed=i, dataset=datasets[i % 4], noise=0.05 * (i % 3), learning_rate=0.01 * (1 + i % 5))
            for i in range(24)],
        "each a different width (12 shapes)": [replace(settings, width=3 + i, seed=i) for i in range(12)],
        "three presets and the default, three visitors each": [
            replace(one, seed=i) for one in (settings, *(preset(name) for name in list(PRESETS)[:3])) for i in range(3)],
    }
    for what, asked in rooms.items():
        started = time.perf_counter()
        finished: dict[int, float] = {}
        jobs = [submit_training(one, owner=f"visitor-{i}") for i, one in enumerate(asked)]
        for job in jobs:
            job.on_finish(lambda done: finished.setdefault(id(done), time.perf_counter() - started))
        for job in jobs:
            run_now(job)
        while len(finished) < len({id(job) for job in jobs}):
            time.sleep(0.01)
        times = sorted(finished[id(job)] for job in jobs)  # each visitor's wait: the end of the run it follows
        p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
        print(f"{len(jobs)} visitors press Train at once, {what}: {len({id(job) for job in jobs})} run(s); "
              f"p50 {p50:.2f} s, p95 {p95:.2f} s to the last snapshot; p95 / alone {p95 / best:.1f}x")

if __name__ == "__main__":
    main()
