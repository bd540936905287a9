#!/bin/sh
# The Space's server (the image's CMD): public mode, no downloads, port 7860 on every interface.
# tests/browser/test_space_upload.py starts this same script (with ADDRESS and PORT of its own).
cd "$(dirname "$0")/.."
# Every visitor is a stranger (docs/public-mode.md); the operator may still turn it off.
export DASHBOARD_PUBLIC="${DASHBOARD_PUBLIC:-1}"
# One reverse proxy (the Space's) stands in front of the container and appends the address it saw
# to X-Forwarded-For: the per-address limits count that entry (ui/core/addresses.py). Behind more
# proxies of your own, set the number of hops, or their addresses.
export DASHBOARD_TRUSTED_PROXIES="${DASHBOARD_TRUSTED_PROXIES:-1}"
# Allowed online models were fetched when the image was built; nothing is fetched at run time.
export HF_HUB_OFFLINE=1
# The Space page shows the app inside an iframe on huggingface.co, a cross-site frame, where the
# browser withholds Streamlit's XSRF cookie, so every upload (photo, CSV, teaching CSV) would get
# "403 Forbidden". This deployment turns Streamlit's XSRF check off; a laptop keeps it
# (.streamlit/config.toml). An upload still needs the visitor's own session id and file id, and
# each page checks what arrives as before (size, type, pixels, rows).
export STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=false
exec .venv/bin/python -m streamlit run app.py \
  --server.address "${ADDRESS:-0.0.0.0}" --server.port "${PORT:-7860}"
