import os

# Tests load models when they need them; the app's background warm-up would only compete.
os.environ.setdefault("DASHBOARD_WARMUP", "0")
