"""Where models run and how many CPU threads torch may use."""

from __future__ import annotations

import os
import threading

import torch

DEVICE_ENV = "DASHBOARD_DEVICE"  # "cuda", "mps" or "cpu"; unset means: best available
_threads_lock = threading.Lock()
_threads_configured = False


def available_cores() -> int:
    """Cores this process may really use: CPU_CORES (set on Spaces), else the CPU affinity mask."""
    configured = os.environ.get("CPU_CORES", "").strip()
    if configured:
        try:
            return max(1, int(float(configured)))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


def configure_threads() -> int:
    """Set torch's intra-op threads to the usable cores, once per process; returns the count."""
    global _threads_configured
    cores = available_cores()
    with _threads_lock:
        if not _threads_configured:
            torch.set_num_threads(cores)
            _threads_configured = True
    return torch.get_num_threads()


def threads_for_rows(rows: int) -> int:
    """Intra-op threads for one forward pass of `rows` sequences decoded together on the CPU.

    One sequence gets every core: a visitor alone waits least. A room's batch leaves one core to
    the server's other threads (every visitor's page redrawing, the web server). A forward pass
    is hundreds of small parallel regions, and each waits for its slowest thread: with every core
    in the batch, any thread the system paused for a page's redraw held up the whole step. On 2
    cores a 12-row step took 250-470 ms that way, and 110-200 ms on one thread (bench/room.py:
    twelve visitors' p95 wait 19.6 s -> 11.4 s)."""
    cores = available_cores()
    return cores if rows <= 1 else max(1, cores - 1)


def use_threads(count: int) -> None:
    """Run this thread's next forward passes on `count` intra-op threads."""
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device() -> torch.device:
    """CUDA when available, else MPS, else CPU; DASHBOARD_DEVICE forces one."""
    forced = os.environ.get(DEVICE_ENV, "").strip().lower()
    if forced:
        if forced.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"{DEVICE_ENV}={forced} but CUDA is not available on this machine.")
        if forced == "mps" and not _mps_available():
            raise RuntimeError(f"{DEVICE_ENV}=mps but MPS is not available on this machine.")
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device) -> str:
    """A short human name for the device, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA H100'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def runtime_summary() -> str:
    """A one-line description of where the models run, for the home page."""
    target = select_device()
    threads = available_cores() if target.type == "cpu" else None
    where = describe(target) if threads is None else f"CPU ({threads} threads)"
    return f"Models run on: {where} · PyTorch {torch.__version__}"
