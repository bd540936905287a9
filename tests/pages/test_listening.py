"""Where the server listens: beyond this computer only in public mode, or when the operator sets
DASHBOARD_OPEN_NETWORK=1 (then with a loud warning); otherwise it does not start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from backend.runtime.listening import OPEN_ENV, check_listening
from ui.startup import listening

ROOT = Path(__file__).resolve().parents[2]
BEYOND = [None, "", "0.0.0.0", "::", "192.168.1.23", "10.0.0.5"]  # None: Streamlit's default, every interface
HERE = ["127.0.0.1", "localhost", "::1", "127.0.0.2"]


@pytest.fixture
def laptop(monkeypatch):
    monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)
    monkeypatch.delenv(OPEN_ENV, raising=False)
    return monkeypatch


@pytest.mark.parametrize("address", BEYOND)
def test_beyond_this_computer_without_public_mode_is_refused_with_the_fix_named(address, laptop):
    check = check_listening(address)
    assert check.refused
    assert "DASHBOARD_PUBLIC=1" in check.message and f"{OPEN_ENV}=1" in check.message and "127.0.0.1" in check.message


@pytest.mark.parametrize("address", BEYOND)
def test_beyond_this_computer_is_allowed_in_public_mode_or_when_meant(address, laptop):
    laptop.setenv("DASHBOARD_PUBLIC", "1")
    assert not check_listening(address).refused and check_listening(address).message == ""
    laptop.delenv("DASHBOARD_PUBLIC")
    laptop.setenv(OPEN_ENV, "1")
    meant = check_listening(address)
    assert not meant.refused and meant.message.startswith("WARNING: listening") and "WITHOUT public mode" in meant.message


@pytest.mark.parametrize("address", HERE)
def test_this_computer_only_needs_nothing(address, laptop):
    check = check_listening(address)
    assert not check.refused and check.message == ""


def test_the_start_up_check_prints_and_stops_or_warns(laptop, capsys):
    laptop.setattr(listening.st, "get_option", lambda name: {"server.address": "0.0.0.0"}[name])
    with pytest.raises(SystemExit, match="Not starting"):
        listening.check_listening_address()
    assert "Not starting: the server would listen on 0.0.0.0" in capsys.readouterr().err
    laptop.setenv(OPEN_ENV, "1")
    listening.check_listening_address()
    assert "WARNING: listening on 0.0.0.0 WITHOUT public mode" in capsys.readouterr().err
    laptop.setattr(listening.st, "get_option", lambda name: {"server.address": "127.0.0.1"}[name])
    listening.check_listening_address()
    assert capsys.readouterr().err == ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamlit_run_on_every_interface_without_public_mode_does_not_start():
    """The real start-up: `streamlit run app.py --server.address 0.0.0.0` with public mode off
    exits with an error status and the message, and never answers a request."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DASHBOARD_PUBLIC", OPEN_ENV)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=ROOT, env={**env, "DASHBOARD_WARMUP": "0"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    answered = False
    try:
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                    answered = response.status == 200
                    break
            except OSError:
                time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.kill()
        output = server.communicate(timeout=30)[0]
    assert not answered, "the server answered on every interface without public mode"
    assert server.returncode not in (0, None, -9), output[-2000:]
    assert "Not starting: the server would listen on 0.0.0.0" in output
