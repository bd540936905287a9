import logging
import os
from collections import Counter
from pathlib import Path

import pytest

# Tests load models when they need them; the app's background warm-up would only compete.
os.environ.setdefault("DASHBOARD_WARMUP", "0")


class _ModelLoads(logging.Handler):
    """Counts the models this test process loads (model_cache logs one line per load)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.loads: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("Loaded ") and record.args:
            name, *_rest, seconds = record.args
            self.loads[name] += 1
            self.seconds[name] += float(seconds)


MODEL_LOADS = _ModelLoads()
logging.getLogger("backend.runtime.model_cache").addHandler(MODEL_LOADS)


def pytest_terminal_summary(terminalreporter):
    """Each model loaded in this process, how often and for how long: a model loaded more than
    once is a test that threw the shared copy away."""
    if MODEL_LOADS.loads:
        terminalreporter.section("model loads in the test process")
        for name, count in MODEL_LOADS.loads.most_common():
            terminalreporter.write_line(f"{count} x {name}: {MODEL_LOADS.seconds[name]:.1f} s")


BROWSER = Path(__file__).parent / "browser"


def pytest_collection_modifyitems(items):
    """Two lanes (pytest-xdist, `--dist loadgroup` in pyproject.toml): every browser test in one
    worker, in file order (they share a server and a browser, and spend most of their time waiting
    on the app's own process; xdist hands out this largest group first), while the other worker
    takes the rest. A long browser test marked `own_server` (its own app server, nothing shared) is
    a group of its own, so the lane with less to do takes it. (Three lanes on the two cores took
    17 min 20 s against two lanes' 18 min 20 s, but two browser tests failed on the load: a typed
    prompt replaced by a rerun landing after it, an upload's refusal not shown in time.)"""
    for item in items:
        if BROWSER in Path(str(item.fspath)).parents:
            own = item.get_closest_marker("own_server") is not None
            item.add_marker(pytest.mark.xdist_group(f"browser-{item.name}" if own else "browser"))


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server for this test process (see tests/redis_server.py)."""
    from tests.redis_server import redis_server

    with redis_server() as url:
        yield url
