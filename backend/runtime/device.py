"""Where models run and how many CPU threads torch may use."""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from functools import lru_cache

import torch

from backend.shared.language import n_, t

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


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set features, named as Linux names them ("avx2", "avx512_bf16",
    "amx_bf16"...).

    Read from `torch.cpu.get_capabilities()`: the cpuinfo library PyTorch itself consults, on every
    operating system, and it counts a feature only where the operating system has enabled it (AMX's
    tile state included). Neither of PyTorch's other answers can tell native bf16 apart:
    `torch.backends.cpu.get_cpu_capability()` names the vector width its own kernels were built
    for ("AVX512" for an AVX-512 CPU with or without bf16 instructions, never "AMX"), and
    `torch.ops.mkldnn._is_mkldnn_bf16_supported()` is true on any AVX-512 CPU, where oneDNN emulates
    bf16. Without `get_capabilities` (an older torch), Linux's /proc/cpuinfo gives the same names."""
    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None:
        try:
            return frozenset(name for name, value in capabilities().items() if value is True)
        except RuntimeError:
            pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device_type: str, flags: Collection[str] = (), gpu_major: int = 0) -> str | None:
    """What computes bf16 natively on this device ("CPU has AMX"), or None where nothing does.

    On an x86 CPU that is AMX (`amx_bf16`) or AVX-512 BF16 (`avx512_bf16`): there PyTorch's bf16
    matrix products run on bf16 instructions. Without them (AVX2, AVX-512 without BF16) PyTorch
    converts through another path, which rounds differently and is slower than fp32 for a batch of
    rows (bench/RESULTS.md, "SmolLM2's MLP dtype"). ARM CPUs and Apple's GPU are not counted:
    nothing here checks how PyTorch computes bf16 on them, and fp32 is right everywhere. On CUDA
    bf16 is native from compute capability 8 (Ampere) on."""
    if device_type == "cpu":
        if "amx_bf16" in flags:
            return "CPU has AMX"
        if "avx512_bf16" in flags:
            return "CPU has AVX-512 BF16"
    elif device_type == "cuda" and gpu_major >= 8:
        return "GPU has bf16"
    return None


def native_bf16_on(device: torch.device) -> str | None:
    """`native_bf16` for this machine's `device`."""
    if device.type == "cuda":
        return native_bf16("cuda", gpu_major=torch.cuda.get_device_capability(device)[0])
    return native_bf16(device.type, cpu_flags() if device.type == "cpu" else ())


CPU_THREADS = n_("CPU ({threads} threads)")


def describe(device: torch.device, shown: bool = False) -> str:
    """A short human name for the device, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA H100'. `shown`:
    in the reader's language, for a page drawing it now; else English (an answer's run info, kept
    and shared by visitors in either language)."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = torch.get_num_threads()
    return t(CPU_THREADS, threads=threads) if shown else CPU_THREADS.format(threads=threads)


def runtime_summary() -> str:
    """A one-line description of where the models run, for the home page (in the reader's language)."""
    target = select_device()
    threads = available_cores() if target.type == "cpu" else None
    where = describe(target, shown=True) if threads is None else t(CPU_THREADS, threads=threads)
    return t("Models run on: {where} · PyTorch {version}", where=where, version=torch.__version__)
