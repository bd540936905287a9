"""The Home page's model table: real sizes, device and load time of the models loaded here, and
the registry's size for those not loaded yet, whichever models earlier tests loaded."""

import torch

from backend.runtime import device as devices
from backend.runtime import model_cache as models
from backend.runtime.registry import MINILM, SMOLLM2, default_model

# SmolLM2: 134,515,008 parameters, of which its MLPs hold 30 layers x 3 x 576 x 1536 = 79,626,240
SMOLLM2_MB = {torch.float32: 513.1, torch.bfloat16: 361.3}  # those in 4 bytes, or the MLPs' in 2


def _rows() -> dict[str, dict[str, object]]:
    return {row["model"]: row for row in models.loaded_model_rows()}


def test_a_loaded_model_reports_its_real_size_device_and_load_time():
    assert default_model("classification").key == MINILM.key
    handle = models.get_model(MINILM.key)
    row = _rows()[MINILM.name]
    assert row["parameters (M)"] == 22.7  # counted on the loaded weights: 22,713,216
    assert row["memory (MB)"] == 86.7  # those in float32, and its position and token-type ids
    assert row["device"] == devices.describe(handle.device)
    assert row["load time (s)"] == round(handle.load_seconds, 2) and handle.load_seconds > 0


def test_smollm2_s_memory_follows_the_dtype_its_mlps_were_loaded_in():
    handle = models.get_model(SMOLLM2.key)
    mlp_dtype = handle.model.model.layers[0].mlp.down_proj.weight.dtype
    row = _rows()[SMOLLM2.name]
    assert row["parameters (M)"] == 134.5 == SMOLLM2.params_millions
    assert row["memory (MB)"] == SMOLLM2_MB[mlp_dtype], mlp_dtype


def test_a_model_not_loaded_says_so_and_gives_the_registry_size(monkeypatch):
    # out of this process's loaded models for the test, whether or not an earlier test loaded it
    monkeypatch.delitem(models._loaded, SMOLLM2.key, raising=False)
    assert not models.is_loaded(SMOLLM2.key)
    assert _rows()[SMOLLM2.name] == {
        "model": SMOLLM2.name,
        "parameters (M)": 134.5,
        "memory (MB)": None,
        "device": "not loaded yet",
        "load time (s)": None,
    }
