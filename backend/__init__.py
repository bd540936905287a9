"""Model work for the dashboard: loading, running and explaining models. Never imports streamlit.

One thing happens on import, before any submodule can import torchvision: on a machine without
CUDA, `triton` is marked as absent. Triton compiles GPU kernels; PyTorch's CUDA wheels install it,
and torchvision imports `torch._dynamo`, which imports triton and maps its native library. That
costs tens of MB of resident memory in every process for a compiler that cannot run without a
GPU. Marked absent, `import triton` raises ImportError, which torch and transformers read as
"triton not installed". Nothing here calls torch.compile. Set DASHBOARD_KEEP_TRITON=1 to keep it.

On such a machine the CUDA build's own libraries (cuBLAS, NVRTC, ...) load with torch too, and
reading them in leaves their pages resident; those pages are handed back at once
(`runtime.memory.page_out_cuda_libraries`).

And before torch loads its OpenMP runtime (GNU libgomp, which reads its settings once, when it
loads), idle OpenMP threads are told to sleep instead of spinning (`OMP_WAIT_POLICY=PASSIVE`,
unless the environment says otherwise). A forward pass is hundreds of parallel regions; in a
server whose cores are also busy with visitors' page runs, a thread that finished its share
would spin on its core while the thread it waited for could not get one (bench/RESULTS.md has
the measurements).
"""

from __future__ import annotations

import os
import sys

OMP_WAIT_POLICY = "PASSIVE"
if "torch" not in sys.modules:  # once torch is loaded, its OpenMP runtime has read the setting
    os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)


def _on_a_cpu() -> None:
    import torch

    if torch.cuda.is_available():
        return
    if "triton" not in sys.modules and os.environ.get("DASHBOARD_KEEP_TRITON", "").strip() not in {"1", "true"}:
        sys.modules["triton"] = None  # type: ignore[assignment]  # import triton -> ImportError
    from backend.runtime.memory import page_out_cuda_libraries

    page_out_cuda_libraries()


_on_a_cpu()
