#!/usr/bin/env bash
# Set up (first time only, test tools and Chromium included) and run the whole test suite.
# Screenshots of every page land in test-artifacts/. Pytest's 20 slowest tests are listed at the end
# (a later --durations=N given here wins).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest --durations=20 "$@"
