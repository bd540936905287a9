import gc
import re
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.attention.weights import attention
from backend.generation.in_process import generate
from backend.generation.token_steps import GenerationSettings
from backend.runtime import loaders
from backend.runtime import model_cache as models
from backend.runtime.device import (
    available_cores,
    cpu_flags,
    native_bf16,
    select_device,
    threads_for_rows,
)
from backend.runtime.errors import InputError, ModelUnavailableError
from backend.runtime.loaders import MLP_DTYPE_ENV, choose_mlp_dtype
from backend.runtime.registry import DISTILBERT_SST2, EFFICIENTNET, GPT2, VIT, get_spec
from backend.text.classify import classify
from backend.vision.image_decoding import example_image
from backend.vision.recognition import recognise

ROOT = Path(__file__).resolve().parents[2]


def _run_concurrently(fn, n=8):
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def call(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return results


def test_two_sessions_loading_at_once_get_one_copy(monkeypatch):
    calls = []
    original = loaders.LOADERS[("package", "image-classifier")]

    def counting(spec, device):
        calls.append(spec.key)
        time.sleep(0.2)  # widen the window in which a second load could start
        return original(spec, device)

    monkeypatch.setitem(loaders.LOADERS, ("package", "image-classifier"), counting)
    monkeypatch.delitem(models._loaded, EFFICIENTNET.key, raising=False)
    handles = _run_concurrently(lambda i: models.get_model(EFFICIENTNET.key))
    assert calls == [EFFICIENTNET.key]
    assert len({id(h) for h in handles}) == 1
    assert not handles[0].model.training


def test_eight_threads_per_task_each_get_what_one_thread_alone_gets():
    texts = ["This movie was wonderful", "This movie was terrible"]
    alone = [classify(text)[0] for text in texts]
    together = _run_concurrently(lambda i: classify(texts[i % 2])[0])
    assert [r.label for r in alone] == ["positive", "negative"]
    for i, result in enumerate(together):
        reference = alone[i % 2]
        assert [s.label for s in result.scores] == [s.label for s in reference.scores]
        assert np.allclose([s.probability for s in result.scores], [s.probability for s in reference.scores], atol=1e-6)

    cat = example_image("Cat (Chelsea)")
    reference = recognise(cat)
    for result in _run_concurrently(lambda i: recognise(cat)):
        assert [c.index for c in result.top] == [c.index for c in reference.top]
        assert np.allclose([c.probability for c in result.top], [c.probability for c in reference.top], atol=1e-6)

    reference = attention("Attention is all you need.")
    for result in _run_concurrently(lambda i: attention("Attention is all you need.")):
        assert result.tokens == reference.tokens
        assert np.abs(result.weights - reference.weights).max() < 1e-6

    settings = GenerationSettings(max_new_tokens=6, temperature=0, chat=False)
    reference = [step.token_id for step in generate("Once upon a time", settings)]
    outputs = _run_concurrently(lambda i: [step.token_id for step in generate("Once upon a time", settings)])
    assert len(reference) == 6 and outputs == [reference] * 8


@pytest.mark.parametrize("spec", [GPT2, VIT, DISTILBERT_SST2])
def test_hub_models_fail_offline_with_a_clear_message(spec, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="Hugging Face Hub"):
        models.get_model(spec.key)
    assert time.perf_counter() - started < 30
    assert not models.is_loaded(spec.key)


def test_unknown_model_key():
    with pytest.raises(InputError, match="Unknown model"):
        get_spec("nope")


def test_cores_follow_cpu_cores_variable(monkeypatch):
    monkeypatch.setenv("CPU_CORES", "3")
    assert available_cores() == 3
    monkeypatch.delenv("CPU_CORES")
    assert available_cores() >= 1


def test_a_lone_visitor_decodes_on_every_core_and_a_room_leaves_one_to_the_server(monkeypatch):
    for cores, lone, room in ((1, 1, 1), (2, 2, 1), (16, 16, 15)):
        monkeypatch.setenv("CPU_CORES", str(cores))
        assert (threads_for_rows(1), threads_for_rows(12)) == (lone, room)


def test_the_packaged_models_are_kept_out_of_full_collections_and_scripts_end_without_one():
    models.get_model(EFFICIENTNET.key)  # packaged: stays for good
    assert gc.get_freeze_count() > 100_000  # the model, the libraries, the server: skipped by every full collection
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False  # a full collection after each run stalled the room


def _openmp_spin_count(environment: dict[str, str]) -> str:
    """GOMP_SPINCOUNT as libgomp read it when the app module loaded torch (OMP_DISPLAY_ENV)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env.update(OMP_DISPLAY_ENV="verbose", **environment)
    done = subprocess.run([sys.executable, "-c", "import app, torch; torch.ones(64, 64) @ torch.ones(64, 64)"],
                          capture_output=True, text=True, timeout=300, check=True, cwd=ROOT, env=env)
    return re.search(r"GOMP_SPINCOUNT = '(\d+)'", done.stderr).group(1)


def test_the_app_s_openmp_threads_sleep_instead_of_spinning_unless_the_operator_says_otherwise():
    # spinning threads held the cores a room's page runs needed (README: a room's generation)
    assert _openmp_spin_count({}) == "0"
    assert int(_openmp_spin_count({"OMP_WAIT_POLICY": "ACTIVE"})) > 0


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("DASHBOARD_DEVICE", "cpu")
    assert select_device().type == "cpu"
    import torch

    if not torch.cuda.is_available():
        monkeypatch.setenv("DASHBOARD_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            select_device()


@pytest.mark.parametrize(
    ("device_type", "flags", "gpu_major", "native"),
    [
        ("cpu", {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}, 0, "CPU has AMX"),  # Xeon since Sapphire Rapids
        ("cpu", {"avx2", "avx512f", "avx512bw", "avx512_bf16"}, 0, "CPU has AVX-512 BF16"),  # EPYC since Zen 4
        ("cpu", {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"}, 0, None),  # AVX-512 without BF16: bf16 emulated
        ("cpu", {"sse2", "avx", "avx2", "fma"}, 0, None),  # AVX2 only: most laptops, EPYC before Zen 4
        ("cpu", {"fp", "asimd", "bf16", "sve"}, 0, None),  # ARM: not counted
        ("cpu", set(), 0, None),  # nothing known
        ("cuda", set(), 8, "GPU has bf16"),
        ("cuda", set(), 7, None),
        ("mps", set(), 0, None),
    ],
)
def test_bf16_counts_as_native_only_on_amx_avx512_bf16_cpus_and_ampere_gpus(device_type, flags, gpu_major, native):
    assert native_bf16(device_type, frozenset(flags), gpu_major) == native


def test_smollm2_s_mlps_are_bf16_where_it_is_native_and_fp32_elsewhere_unless_the_setting_says():
    assert choose_mlp_dtype(None, "CPU has AMX") == (torch.bfloat16, "MLPs in bf16 (CPU has AMX)")
    assert choose_mlp_dtype("", "CPU has AVX-512 BF16") == (torch.bfloat16, "MLPs in bf16 (CPU has AVX-512 BF16)")
    assert choose_mlp_dtype(None, None) == (torch.float32, "MLPs in fp32 (no native bf16 on this CPU)")
    assert choose_mlp_dtype(None, None, "mps") == (torch.float32, "MLPs in fp32 (no native bf16 on this device)")
    forced = f"set by {MLP_DTYPE_ENV}"
    assert choose_mlp_dtype("float32", "CPU has AMX") == (torch.float32, f"MLPs in fp32 ({forced})")
    assert choose_mlp_dtype(" FP32 ", "CPU has AMX") == (torch.float32, f"MLPs in fp32 ({forced})")
    assert choose_mlp_dtype("bfloat16", None) == (torch.bfloat16, f"MLPs in bf16 ({forced})")
    assert choose_mlp_dtype("bf16", None) == (torch.bfloat16, f"MLPs in bf16 ({forced})")
    # anything else is no setting: the hardware chooses
    assert choose_mlp_dtype("half", None) == (torch.float32, "MLPs in fp32 (no native bf16 on this CPU)")
    assert choose_mlp_dtype("auto", "CPU has AMX") == (torch.bfloat16, "MLPs in bf16 (CPU has AMX)")


def test_this_machine_s_cpu_features_have_the_names_linux_gives_them():
    import platform

    flags = cpu_flags()
    if platform.machine() in ("x86_64", "AMD64"):
        assert "sse2" in flags  # every x86-64 CPU has it
    try:
        with open("/proc/cpuinfo") as info:
            linux = set(next(line for line in info if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        pytest.skip("no x86 /proc/cpuinfo here")
    features = {"avx2", "avx512_bf16", "amx_bf16", "amx_tile"}
    assert flags & features == linux & features


def test_triton_is_hidden_without_a_gpu_and_torchvision_still_works():
    import subprocess
    import sys

    probe = (
        "import sys, backend, torch, torchvision, timm\n"
        "from torchvision.ops import roi_align\n"
        "print(sys.modules.get('triton', 'missing') is None, torch.cuda.is_available())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    hidden, cuda = out.stdout.split()
    assert hidden == str(cuda == "False")  # hidden exactly when there is no GPU to compile for


_CUDA_RESIDENT = r"""
import json, re, sys
exec(sys.argv[1])
_CUDA_LIBRARIES = json.loads(sys.argv[2])  # not imported from backend: that would page them out
rss, private, path = 0, 0, ""
for line in open("/proc/self/smaps"):
    fields = line.split()
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        path = fields[5] if len(fields) > 5 else ""
    elif any(part in path for part in _CUDA_LIBRARIES):
        if fields[0] == "Rss:":
            rss += int(fields[1])
        elif fields[0] in ("Private_Clean:", "Private_Dirty:"):
            private += int(fields[1])
print(rss // 1024, private // 1024)
"""


def _cuda_resident_mb(statement: str) -> tuple[int, int]:
    """The CUDA libraries' resident MB after `statement` in a fresh process: all of it, and the
    part no other process maps (pages another process maps too are shared, and paging out skips them)."""
    import json
    import subprocess
    import sys

    from backend.runtime.memory import _CUDA_LIBRARIES

    done = subprocess.run([sys.executable, "-c", _CUDA_RESIDENT, statement, json.dumps(_CUDA_LIBRARIES)],
                          capture_output=True, text=True, timeout=300, check=True)
    rss, private = done.stdout.split()[-2:]
    return int(rss), int(private)


def test_on_a_cpu_the_cuda_libraries_that_load_with_torch_hold_no_memory():
    import torch

    (plain, plain_own), (ours, ours_own) = _cuda_resident_mb("import torch"), _cuda_resident_mb("import backend")
    if torch.version.cuda and not torch.cuda.is_available():  # PyPI's CUDA build on a CPU, as here and in CI
        # `import torch` reads well over 100 MB of their pages in; `import backend` hands back all but
        # their written data pages. Where other processes map the libraries too (a second test lane,
        # an app server), their pages are shared and stay: then this process holds none of its own.
        assert plain > 100 and ours_own < 30, (plain, plain_own, ours, ours_own)
        if plain_own > 100:  # nobody else maps them: all of it is handed back
            assert ours < 30, (plain, ours)
    else:  # a CPU-only build has none of them; on a GPU they are used and kept
        assert ours == plain or ours > 50, (plain, ours)
