"""The Home page's model table: real sizes, device and load time of the models loaded here."""

from backend.runtime import model_cache as models
from backend.runtime.registry import MINILM, SMOLLM2, default_model


def test_a_loaded_model_reports_its_real_size_device_and_load_time():
    assert default_model("classification").key == MINILM.key
    models.get_model(MINILM.key)
    rows = {row["model"]: row for row in models.loaded_model_rows()}
    row = rows[MINILM.name]
    assert abs(row["parameters (M)"] - 22.7) < 0.2  # counted on the loaded weights
    assert 80 < row["memory (MB)"] < 100  # 22.7 M float32 weights and buffers
    assert row["load time (s)"] > 0
    assert row["device"].startswith(("CPU", "CUDA", "Apple"))


def test_a_model_not_loaded_says_so_and_gives_the_registry_size():
    rows = {row["model"]: row for row in models.loaded_model_rows()}
    if not models.is_loaded(SMOLLM2.key):
        row = rows[SMOLLM2.name]
        assert row["device"] == "not loaded yet"
        assert row["memory (MB)"] is None and row["load time (s)"] is None
        assert row["parameters (M)"] == SMOLLM2.params_millions
    assert set(rows) >= {MINILM.name, SMOLLM2.name}
