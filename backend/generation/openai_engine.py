"""Generation on an OpenAI-compatible server (llama.cpp's server, vLLM, TGI), streamed step by step.

The server does the sampling; each streamed token comes with its log-probability and the top
alternatives when the server returns `logprobs` (the OpenAI API's `top_logprobs`). Nothing else
about the model is visible from outside: entropy over the whole vocabulary, the distribution after
sampling's filters, attention, attributions, the logit lens and "what if" need the in-process model.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from backend.generation.token_steps import (
    Candidate,
    GenerationSettings,
    Step,
    StepStream,
    submit_stream,
)
from backend.runtime.errors import EngineError, InputError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.scheduler import Job

URL_ENV = "DASHBOARD_OPENAI_BASE_URL"  # e.g. http://127.0.0.1:8080/v1
MODEL_ENV = "DASHBOARD_OPENAI_MODEL"  # the model name the server expects (vLLM needs it)
API_KEY_ENV = "DASHBOARD_OPENAI_API_KEY"
TOP_LOGPROBS = 5
CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0  # the longest wait for the next piece of the stream


def default_url() -> str:
    return os.environ.get(URL_ENV, "").strip()


def normalise_url(url: str) -> str:
    """'http://host:8080', '.../v1/' or '.../v1/chat/completions' all become 'http://host:8080/v1'."""
    url = (url or "").strip().rstrip("/")
    if not url:
        raise InputError(f"Give the server's URL (for example http://127.0.0.1:8080/v1), or set {URL_ENV}.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url!r} is not an http(s) URL. It should look like http://127.0.0.1:8080/v1.")
    for tail in ("/chat/completions", "/completions"):
        if url.endswith(tail):
            url = url[: -len(tail)]
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass(frozen=True)
class Engine:
    base_url: str
    model: str = ""  # empty: the first model the server lists

    @classmethod
    def at(cls, url: str, model: str = "") -> Engine:
        return cls(normalise_url(url), (model or os.environ.get(MODEL_ENV, "")).strip())


def _candidates(entries: Sequence[tuple[str, float]]) -> tuple[Candidate, ...]:
    ranked = sorted(entries, key=lambda e: -e[1])
    return tuple(Candidate(-1, token, math.exp(logprob)) for token, logprob in ranked)


def _steps_from_chunk(choice: dict, first_index: int, seconds: float) -> list[Step]:
    """Steps from one streamed choice: chat (`logprobs.content`) or completions (`tokens`)."""
    logprobs = choice.get("logprobs") or {}
    entries: list[tuple[str, float, list[tuple[str, float]]]] = []
    if isinstance(logprobs.get("content"), list):
        for item in logprobs["content"]:
            top = [(t["token"], float(t["logprob"])) for t in item.get("top_logprobs") or []]
            entries.append((item["token"], float(item["logprob"]), top))
    elif isinstance(logprobs.get("tokens"), list):
        tops = logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"])
        for token, logprob, top in zip(logprobs["tokens"], logprobs["token_logprobs"], tops, strict=False):
            entries.append((token, float(logprob), list((top or {}).items())))
    else:  # a server that sends no odds: the text alone
        delta = choice.get("delta") or {}
        text = delta.get("content") if "delta" in choice else choice.get("text")
        return [Step(first_index, -1, text, float("nan"), 0, seconds, ())] if text else []
    steps = []
    for n, (token, logprob, top) in enumerate(entries):
        before = _candidates(top)
        rank = next((i + 1 for i, c in enumerate(before) if c.text == token), 0)  # 0: not in the list
        steps.append(Step(first_index + n, -1, token, math.exp(logprob), rank, seconds, before))
    return steps


class RemoteStream(StepStream):
    """Iterable of `Step`s from the server. After iteration: `steps`, `text`, `stop_reason`, `run`."""

    def __init__(self, prompt: str, settings: GenerationSettings, engine: Engine) -> None:
        super().__init__(prompt, settings)
        self.engine = engine
        self.model_name = engine.model

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)

    def _request_body(self) -> tuple[str, dict]:
        s = self.settings
        body: dict = {
            "model": self.model_name, "stream": True, "max_tokens": s.max_new_tokens,
            "temperature": float(s.temperature), "top_p": float(s.top_p), "logprobs": True,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.top_k > 0:
            body["top_k"] = s.top_k  # llama.cpp and vLLM read it; OpenAI itself has none
        if s.repetition_penalty != 1.0:
            body["repeat_penalty"] = body["repetition_penalty"] = float(s.repetition_penalty)  # llama.cpp / vLLM names
        if s.chat:
            messages = [{"role": "system", "content": s.system_prompt.strip()}] if s.system_prompt.strip() else []
            body.update(messages=[*messages, {"role": "user", "content": self.prompt}], top_logprobs=TOP_LOGPROBS)
            return "chat/completions", body
        body.update(prompt=self.prompt, logprobs=TOP_LOGPROBS)
        return "completions", body

    def _post(self, path: str, body: dict) -> requests.Response:
        url = f"{self.engine.base_url}/{path}"
        headers = {"Authorization": f"Bearer {os.environ[API_KEY_ENV]}"} if os.environ.get(API_KEY_ENV) else {}
        try:
            response = requests.post(url, json=body, stream=True, timeout=(CONNECT_SECONDS, READ_SECONDS), headers=headers)
        except requests.exceptions.ConnectTimeout as exc:
            raise EngineError(f"{self.engine.base_url} did not accept a connection within {CONNECT_SECONDS:.0f} s.") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise EngineError(f"{self.engine.base_url} accepted the request but did not answer within {READ_SECONDS:.0f} s.") from exc
        except requests.exceptions.RequestException as exc:
            raise EngineError(
                f"Could not connect to {self.engine.base_url} ({type(exc).__name__}). Is the server running, "
                "and is the URL right?"
            ) from exc
        if response.status_code >= 400:
            detail = response.text[:300].strip()
            response.close()
            raise EngineError(f"The server at {self.engine.base_url} answered HTTP {response.status_code}: {detail or response.reason}")
        return response

    def _model_name(self) -> str:
        """The first model the server lists (vLLM needs a name; llama.cpp accepts any)."""
        try:
            listed = requests.get(f"{self.engine.base_url}/models", timeout=(CONNECT_SECONDS, READ_SECONDS)).json()
            return str(listed["data"][0]["id"])
        except (requests.exceptions.RequestException, ValueError, KeyError, IndexError, TypeError):
            return "default"  # the generation request itself will say what is wrong

    def _produce(self, started: float, deadline: float) -> Iterator[Step]:
        if not self.model_name:
            self.model_name = self._model_name()
        path, body = self._request_body()
        with closing(self._post(path, body)) as response:
            try:
                for line in response.iter_lines(decode_unicode=False):
                    if self._should_end(deadline):
                        break
                    if not line or line.startswith(b":"):
                        continue
                    if not line.startswith(b"data:"):
                        raise self._garbage(line)
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                        choice = chunk["choices"][0]
                    except (ValueError, KeyError, IndexError, TypeError) as exc:
                        raise self._garbage(data) from exc
                    for step in _steps_from_chunk(choice, len(self.steps), time.perf_counter() - started):
                        self.steps.append(step)
                        self.run = RunInfo(self.model_name, f"server at {self.engine.base_url}", time.perf_counter() - started)
                        yield step
                    if choice.get("finish_reason") == "stop":
                        self.stop_reason = "end of answer"
            except requests.exceptions.RequestException as exc:
                raise EngineError(f"The stream from {self.engine.base_url} broke off or stalled for over {READ_SECONDS:.0f} s ({type(exc).__name__}).") from exc
        self.run = RunInfo(self.model_name, f"server at {self.engine.base_url}", time.perf_counter() - started)

    def _garbage(self, seen: bytes) -> EngineError:
        return EngineError(
            f"The server at {self.engine.base_url} did not answer like an OpenAI-compatible API "
            f"(expected 'data: {{...}}' lines, got {seen[:80].decode('utf-8', 'replace')!r})."
        )


def submit_remote(
    engine: Engine, prompt: str, settings: GenerationSettings, *, owner: str | None = None, slot: str | None = None
) -> Job:
    """Queue a generation on the server (one at a time per server URL, as for a local model)."""
    return submit_stream(f"engine:{engine.base_url}", RemoteStream, prompt, settings, engine, owner=owner, slot=slot)
