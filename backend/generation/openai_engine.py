"""Generation on an OpenAI-compatible server (llama.cpp's server, vLLM, TGI), streamed step by step.

The server does the sampling; each streamed token comes with its log-probability and the top
alternatives when the server returns `logprobs` (the OpenAI API's `top_logprobs`). Nothing else
about the model is visible from outside: entropy over the whole vocabulary, the distribution after
sampling's filters, attention, attributions, the logit lens and "what if" need the in-process model.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence

from backend.generation.engines import (
    Destination,
    Engine,
    check_allowed,
    checked_destinations,
)
from backend.generation.remote_http import Exchange
from backend.generation.token_steps import (
    END_OF_ANSWER,
    STOPPED,
    Candidate,
    GenerationRequest,
    GenerationSettings,
    Step,
    StepStream,
    submit_stream,
    time_limit_reason,
)
from backend.runtime.errors import EngineError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.scheduler import SCHEDULER, Job, current_job
from backend.shared.language import lazy

TOP_LOGPROBS = 5
POOL_SIZE = 4  # generations on remote servers at once, whatever the servers (no queue per URL)
MODEL_LIST_SECONDS = 10.0


MAX_TOKEN_CHARS = 200  # a token is a few characters; a server's longer "token" is cut here
MAX_ALTERNATIVES = 20


def _token(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a token is not a string")
    return value[:MAX_TOKEN_CHARS]


def _probability(logprob: object) -> float:
    """exp(logprob) for a server's number; anything but a finite number at most 0 is refused."""
    if isinstance(logprob, bool) or not isinstance(logprob, int | float) or not -math.inf <= logprob <= 0.0:
        raise ValueError("a log-probability is not a number at most 0")
    return math.exp(logprob)


def _candidates(entries: Sequence[tuple[object, object]]) -> tuple[Candidate, ...]:
    checked = [(_token(token), _probability(logprob)) for token, logprob in list(entries)[:MAX_ALTERNATIVES]]
    return tuple(Candidate(-1, token, p) for token, p in sorted(checked, key=lambda e: -e[1]))


def _steps_from_chunk(choice: dict, first_index: int, seconds: float) -> list[Step]:
    """Steps from one streamed choice: chat (`logprobs.content`) or completions (`tokens`).
    Whatever the server sent is checked (strings, numbers, lengths); a wrong type raises."""
    logprobs = choice.get("logprobs") or {}
    entries: list[tuple[str, float, tuple[Candidate, ...]]] = []
    if isinstance(logprobs.get("content"), list):
        for item in logprobs["content"]:
            top = [(t["token"], t["logprob"]) for t in item.get("top_logprobs") or []]
            entries.append((_token(item["token"]), _probability(item["logprob"]), _candidates(top)))
    elif isinstance(logprobs.get("tokens"), list):
        tops = logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"])
        for token, logprob, top in zip(logprobs["tokens"], logprobs["token_logprobs"], tops, strict=False):
            entries.append((_token(token), _probability(logprob), _candidates(list((top or {}).items()))))
    else:  # a server that sends no odds: the text alone
        delta = choice.get("delta") or {}
        text = delta.get("content") if "delta" in choice else choice.get("text")
        return [Step(first_index, -1, _token(text), float("nan"), 0, seconds, ())] if text else []
    steps = []
    for n, (token, probability, before) in enumerate(entries):
        rank = next((i + 1 for i, c in enumerate(before) if c.text == token), 0)  # 0: not in the list
        steps.append(Step(first_index + n, -1, token, probability, rank, seconds, before))
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

    def _stopping(self) -> Callable[[], bool]:
        """For the watchdog thread: Stop on this stream, or (in a queue's worker) Stop pressed on its
        job or nobody following it; either ends a pending read at once."""
        job = current_job()
        return lambda: self._cancel.is_set() or (job is not None and job.abandoned)

    def _model_name(self, deadline: float, destinations: tuple[Destination, ...]) -> str:
        """The first model the server lists (vLLM needs a name; llama.cpp accepts any)."""
        with Exchange(self.engine, min(deadline, time.perf_counter() + MODEL_LIST_SECONDS), self._stopping(), destinations) as exchange:
            try:
                exchange.request("GET", "models")
                return str(exchange.read_json()["data"][0]["id"])[:200]
            except (EngineError, KeyError, IndexError, TypeError):
                return "default"  # the generation request itself will say what is wrong

    def _produce(self, started: float, deadline: float) -> Iterator[Step]:
        check_allowed(self.engine)
        destinations = checked_destinations(self.engine)  # resolved once: both requests go there
        if not self.model_name:
            self.model_name = self._model_name(deadline, destinations)
        path, body = self._request_body()
        where = f"server: {self.engine.name}" if self.engine.configured else f"server at {self.engine.base_url}"
        with Exchange(self.engine, deadline, self._stopping(), destinations) as exchange:
            exchange.request("POST", path, body)
            for line in exchange.lines():
                if self.should_end(deadline):
                    break
                if not line or line.startswith(b":"):
                    continue
                if not line.startswith(b"data:"):
                    raise self._garbage()
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                try:
                    choice = json.loads(data)["choices"][0]
                    steps = _steps_from_chunk(choice, len(self.steps), time.perf_counter() - started)
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                    raise self._garbage() from exc
                for step in steps:
                    self.steps.append(step)
                    self.run = RunInfo(self.model_name, where, time.perf_counter() - started)
                    yield step
                if choice.get("finish_reason") == "stop":
                    self.stop_reason = END_OF_ANSWER
            if exchange.ended_by == "deadline":
                self.stop_reason = time_limit_reason()
            elif exchange.ended_by == "stop":
                self.stop_reason = STOPPED
        self.run = RunInfo(self.model_name, where, time.perf_counter() - started)

    def _garbage(self) -> EngineError:
        return EngineError(
            "{server} did not answer like an OpenAI-compatible API (expected 'data: {{...}}' lines with a choice in each).",
            server=self.engine.named,
        )


def open_remote(request: GenerationRequest, engine: Engine) -> RemoteStream:
    """The stream for a checked request (what the queue's worker opens)."""
    return RemoteStream(request.prompt, request.settings, engine)


def submit_remote(
    engine: Engine, prompt: str, settings: GenerationSettings, *, owner: str | None = None, slot: str | None = None, client: str | None = None
) -> Job:
    """Queue a generation on a server. All servers share one pool of `POOL_SIZE` workers (a queue
    per URL would let every typed URL leave a thread behind); the server batches, not us. In public
    mode one address has one generation there at a time (`server_generations_per_address`)."""
    check_allowed(engine)
    request = GenerationRequest.checked(prompt, settings)
    pool = [f"remote-engines/{i}" for i in range(POOL_SIZE)]
    queue_key = min(pool, key=lambda key: SCHEDULER.queue(key).length)
    return submit_stream(
        queue_key, open_remote, request, engine, owner=owner, slot=slot, client=client, about=lazy("a generation on {server}", server=engine.named)
    )
