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
