"""The Space image's pieces that need no container engine (scripts/check_space_image.sh builds and
runs the image itself): the build-time warm-up makes everything a first visitor would otherwise
wait for, a cold public process after it writes nothing and fits nothing, and none of the files
the image prunes is loaded by any page's computation."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = Path(sysconfig.get_path("purelib"))


def _prune_module():
    spec = importlib.util.spec_from_file_location("prune_venv", ROOT / "scripts" / "prune_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pruned_files() -> set[str]:
    prune = _prune_module()
    found = set()
    for pattern in prune.patterns():
        for path in prune.matches(SITE_PACKAGES, pattern):
            files = path.rglob("*") if path.is_dir() else [path]
            found.update(os.path.realpath(f) for f in files if f.is_file())
    return found


# Runs in a fresh interpreter, as the image does: Triton is absent (the image deletes it), and with
# REFUSE_FIRST_USE the slow first-use steps (the GGUF conversions, the sentiment fit, the learning
# page's vectors) raise, so a step that still needed one fails. Prints the build-time warm-up's lines, then one JSON line:
# every shared library mapped and every module file loaded.
_PROCESS = r"""
import json, os, re, sys
sys.modules["triton"] = None  # the image has no Triton: importing it fails as it would there
if os.environ.get("REFUSE_FIRST_USE"):
    from backend.learning import fine_tuning
    from backend.runtime import gguf_convert
    from backend.text import sentiment
    def refuse(*args, **kwargs):
        raise AssertionError("this was to be done at build time")
    gguf_convert._convert = sentiment._fit = fine_tuning._compute = refuse
    import ui.attention.sections, ui.generate.sections, ui.recognise.sections, ui.classify.sections  # noqa: F401
from ui.startup.first_calls import main
status = main()
maps = set(re.findall(r"(/\S+)$", open("/proc/self/maps").read(), re.M))
modules = {getattr(m, "__file__", None) for m in list(sys.modules.values())} - {None}
print(json.dumps({"status": status, "loaded": sorted(os.path.realpath(p) for p in maps | modules)}))
"""


def _run(env: dict[str, str]) -> tuple[list[str], dict]:
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *lines, last = done.stdout.strip().splitlines()
    return lines, json.loads(last)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_build_time_warm_up_leaves_a_cold_public_process_nothing_to_make_or_write(tmp_path):
    cache = tmp_path / "cache"
    env = {  # the image's layout: one cache folder for everything
        "DASHBOARD_CACHE_DIR": str(cache / "ai-dashboard"), "MPLCONFIGDIR": str(cache / "matplotlib"),
        "HF_HOME": str(cache / "huggingface"), "TORCH_HOME": str(cache / "torch"),
        "DASHBOARD_ALLOWED_MODELS": "timm:resnet18.a1_in1k", "DASHBOARD_WARMUP": "0",
    }
    # Gemma 3's conversion (a minute and 3.6 GB at its peak; tests/backend/test_gemma.py checks it)
    # is linked in as this process's cache holds it; the build step finds it done, and the cold
    # process below must still load Gemma 3 and its tokenizer from it without writing anything.
    from backend.runtime.gguf_convert import GEMMA3_GGUF, ensure_converted

    gemma = ensure_converted(GEMMA3_GGUF)
    shutil.copytree(gemma, cache / "ai-dashboard" / gemma.name, copy_function=os.link)
    from backend.learning import fine_tuning  # the learning page's vectors likewise (30 s; test_learning.py)

    fine_tuning.features()
    os.link(fine_tuning._cache_file(), cache / "ai-dashboard" / fine_tuning._cache_file().name)
    lines, report = _run(env)
    assert report["status"] == 0, lines
    made = _tree(cache)
    assert any(name.startswith("ai-dashboard/sentiment-head-") for name in made), made
    assert any(name.endswith("conversion-complete") for name in made), made
    assert any(name.startswith("matplotlib/fontlist") for name in made), made
    by_step = {line.split(": ", 1)[0]: line for line in lines}
    assert "held-out accuracy" in by_step["sentiment head"]
    assert "tiger cat" in by_step["image recognition"]
    assert "18 layers, tokens per tokenizer [" in by_step["Gemma 3"], by_step["Gemma 3"]
    assert "2465 training sentences" in by_step["fine-tuning features"]
    # this machine cannot reach the Hub: the allowed model is reported, and the build goes on
    assert by_step["allowed model timm:resnet18.a1_in1k"].endswith("not fetched")

    # The container: public mode, Hub offline, a fresh process. Every page's computation runs
    # again with the conversion and the fit refused, and the cache is left exactly as it was.
    lines, report = _run({**env, "DASHBOARD_PUBLIC": "1", "HF_HUB_OFFLINE": "1", "REFUSE_FIRST_USE": "1"})
    assert report["status"] == 0, lines
    assert _tree(cache) == made

    # ...and none of what the image deletes was opened, by the pages' computations or their views
    opened = set(report["loaded"]) & _pruned_files()
    assert not opened, sorted(opened)


def test_the_prune_list_names_what_this_torch_build_has():
    prune = _prune_module()
    sizes = {}
    for pattern in prune.patterns():
        found = prune.matches(SITE_PACKAGES, pattern)
        sizes[pattern] = sum(prune._size(path)[1] for path in found)
    if torch.version.cuda is None:  # a CPU-only torch: nothing NVIDIA's or Triton's to delete
        assert all(size == 0 for pattern, size in sizes.items() if pattern.startswith(("nvidia/", "triton"))), sizes
    else:  # PyPI's CUDA build, as CI and the default image install it: every line deletes something
        assert all(size > 0 for size in sizes.values()), sizes
        assert sum(sizes.values()) > 2e9, sum(sizes.values())
