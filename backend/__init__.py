"""Model work for the dashboard: loading, running and explaining models. Never imports streamlit.

One thing happens on import, before any submodule can import torchvision: on a machine without
CUDA, `triton` is marked as absent. Triton compiles GPU kernels; PyTorch's CUDA wheels install it,
and torchvision imports `torch._dynamo`, which imports triton and maps its native library. That
costs about 75 MB of resident memory in every process for a compiler that cannot run without a
GPU. Marked absent, `import triton` raises ImportError, which torch and transformers read as
"triton not installed". Nothing here calls torch.compile. Set DASHBOARD_KEEP_TRITON=1 to keep it.

On such a machine the CUDA build's own libraries (cuBLAS, NVRTC, ...) load with torch too, and
reading them in leaves about 140 MB resident; those pages are handed back at once
(`runtime.memory.page_out_cuda_libraries`).
"""

from __future__ import annotations

import os
import sys


def _on_a_cpu() -> None:
    import torch

    if torch.cuda.is_available():
        return
    if "triton" not in sys.modules and os.environ.get("DASHBOARD_KEEP_TRITON", "").strip() not in {"1", "true"}:
        sys.modules["triton"] = None  # type: ignore[assignment]  # import triton -> ImportError
    from backend.runtime.memory import page_out_cuda_libraries

    page_out_cuda_libraries()


_on_a_cpu()
