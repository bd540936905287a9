from backend.runtime import gguf_convert
from backend.runtime.model_cache import get_model
from backend.runtime.registry import SMOLLM2


def test_smollm2_is_converted_once_into_the_cache_folder(monkeypatch):
    get_model(SMOLLM2.key)
    folder = gguf_convert.converted_dir()
    weights = folder / "model.safetensors"
    assert (folder / "conversion-complete").is_file()
    assert weights.stat().st_size > 400_000_000  # fp32, 134.5 M params
    written = weights.stat().st_mtime_ns

    def no_second_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_convert, "_convert", no_second_conversion)
    assert gguf_convert.ensure_converted() == folder  # second call: no work, same folder
    assert weights.stat().st_mtime_ns == written
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".converting-")]


def test_cache_folder_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    assert gguf_convert.converted_dir().parent == tmp_path
    monkeypatch.delenv("DASHBOARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert gguf_convert.cache_root() == tmp_path / "xdg" / "ai-dashboard"
