"""Model work for the dashboard: loading, running and explaining models. Never imports streamlit.

One thing happens on import, before any submodule can import torchvision: on a machine without
CUDA, `triton` is marked as absent. Triton compiles GPU kernels; PyTorch's CUDA wheels install it,
and torchvision imports `torch._dynamo`, which imports triton and maps its native library. That
costs about 75 MB of resident memory in every process for a compiler that cannot run without a
GPU. Marked absent, `import triton` raises ImportError, which torch and transformers read as
"triton not installed". Nothing here calls torch.compile. Set DASHBOARD_KEEP_TRITON=1 to keep it.
"""

from __future__ import annotations

import os
import sys


def _hide_triton_without_gpu() -> None:
    if "triton" in sys.modules or os.environ.get("DASHBOARD_KEEP_TRITON", "").strip() in {"1", "true"}:
        return
    import torch

    if not torch.cuda.is_available():
        sys.modules["triton"] = None  # type: ignore[assignment]  # import triton -> ImportError


_hide_triton_without_gpu()
