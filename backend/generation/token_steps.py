"""What every generation stream reports, whatever the engine: settings, steps and their odds,
and the stream itself (Stop, the time limit) as the page reads it."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER, Job
from backend.runtime.settings import env_number
from backend.shared.language import Lazy, n_, t
from backend.shared.text_input import clean_text

MAX_NEW_TOKENS = 1024
MAX_TEMPERATURE = 5.0
MAX_TOP_K = 1000
MAX_REPETITION_PENALTY = 3.0
MAX_SYSTEM_CHARS = 4000
TIME_LIMIT_ENV = "DASHBOARD_GENERATION_SECONDS"

# Why a stream ended (`stop_reason`): kept in English in the stream, which every visitor following
# it shares (the examples' store compares it); `stop_reason_text` says it in the reader's language.
END_OF_ANSWER, MAX_NEW_TOKENS_REACHED, STOPPED = n_("end of answer"), n_("max new tokens"), n_("stopped")
TIME_LIMIT = n_("time limit ({seconds} s)")
_TIME_LIMIT_REASON = re.compile(r"time limit \((?P<seconds>\d+) s\)")


def time_limit_seconds() -> float:
    """The wall clock of one generation, so a shared model or a server worker is not held
    forever: `DASHBOARD_GENERATION_SECONDS`, else the mode's (180 s on a laptop, 90 s in public)."""
    return env_number(TIME_LIMIT_ENV, limits().generation_seconds, 1.0)


def time_limit_reason() -> str:
    return TIME_LIMIT.format(seconds=f"{time_limit_seconds():.0f}")


def stop_reason_text(reason: str) -> str:
    """A stream's `stop_reason` in the current language."""
    found = _TIME_LIMIT_REASON.fullmatch(reason)
    return t(TIME_LIMIT, seconds=found["seconds"]) if found else t(reason)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 128
    temperature: float = 0.3  # 0 means greedy: always the most likely next token
    top_k: int = 0  # 0: no top-k filter
    top_p: float = 0.95  # 1: no nucleus filter
    repetition_penalty: float = 1.0  # 1: none; above 1 makes tokens already seen less likely
    seed: int | None = None
    chat: bool = True  # wrap the prompt in the model's chat template, when it has one
    system_prompt: str = ""  # chat mode only; empty: the template's own default
    record_attention: bool = False  # keep, per step, what the predicting position attended to

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def validate(self) -> None:
        most = min(MAX_NEW_TOKENS, limits().new_tokens)
        if not _whole(self.max_new_tokens) or not 1 <= self.max_new_tokens <= most:
            raise InputError("Max new tokens must be a whole number from 1 to {most} here.", most=most)
        if not isinstance(self.temperature, (int, float)) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise InputError("Temperature must be between 0 (greedy) and {most}.", most=f"{MAX_TEMPERATURE:g}")
        if not _whole(self.top_k) or not 0 <= self.top_k <= MAX_TOP_K:
            raise InputError("Top-k must be a whole number from 0 (off) to {most}.", most=MAX_TOP_K)
        if not isinstance(self.top_p, (int, float)) or not 0.0 < self.top_p <= 1.0:
            raise InputError("Top-p must be above 0 and at most 1 (1 = off).")
        if not isinstance(self.repetition_penalty, (int, float)) or not 1.0 <= self.repetition_penalty <= MAX_REPETITION_PENALTY:
            raise InputError("The repetition penalty must be between 1 (off) and {most}.", most=f"{MAX_REPETITION_PENALTY:g}")
        if self.seed is not None and (not _whole(self.seed) or not 0 <= self.seed < 2**32):
            raise InputError("The seed must be a whole number from 0 to 4294967295.")
        if len(self.system_prompt) > MAX_SYSTEM_CHARS:
            raise InputError(
                "The system prompt is {chars} characters; the limit is {most}.",
                chars=f"{len(self.system_prompt):,}", most=f"{MAX_SYSTEM_CHARS:,}",
            )


@dataclass(frozen=True)
class Candidate:
    token_id: int
    text: str
    probability: float


@dataclass(frozen=True, eq=False)
class Step:
    """One generated token and what the model thought when it chose it."""

    index: int  # 0 = the first new token
    token_id: int
    text: str  # the token on its own (a piece of a multi-byte character shows its bytes, `\xe6\xb3`)
    probability: float  # the model's own probability (softmax of its logits, temperature 1)
    rank: int  # 1 = the model's most likely token
    seconds: float  # since the generation started: step 0's is the time to first token
    before: tuple[Candidate, ...]  # the model's top candidates
    after: tuple[Candidate, ...] = ()  # the top of the distribution actually drawn from
    entropy_bits: float | None = None  # of the model's distribution (None: not known)
    kept: int | None = None  # tokens left with any chance after the filters (1 when greedy)
    drawn_probability: float | None = None  # the chosen token's chance in that distribution
    special: bool = False  # an end-of-turn marker rather than text
    forced: bool = False  # put there by the user ("what if"), not drawn
    attention: np.ndarray | None = field(default=None, repr=False)  # float16 [layers, heads, keys]
    raw: bytes | None = field(default=None, repr=False)  # its UTF-8 bytes (a byte-level tokenizer's), to read characters split over tokens

    @property
    def logprob(self) -> float:
        return math.log(max(self.probability, 1e-45))


def sequence_logprob(steps: Sequence[Step]) -> float:
    return float(sum(step.logprob for step in steps))


def perplexity(steps: Sequence[Step]) -> float:
    """exp(mean negative log-likelihood) of the generated tokens under the model."""
    return math.exp(-sequence_logprob(steps) / len(steps)) if steps else float("nan")


class StepStream:
    """Iterable of `Step`s, once: what every generation reports, in-process or from a server.
    After iteration: `steps`, `text`, `stop_reason`, `run`. Subclasses produce the steps
    (`_produce`); the stream owns what Stop, the time limit and an early close change."""

    def __init__(self, prompt: str, settings: GenerationSettings) -> None:
        self.prompt = prompt  # the user's text (without the chat template)
        self.settings = settings
        self.steps: list[Step] = []
        self.stop_reason = ""
        self.run: RunInfo | None = None
        self._cancel = threading.Event()
        self._started = False

    @property
    def new_tokens(self) -> int:
        return len(self.steps)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.run.seconds if self.run and self.run.seconds > 0 else 0.0

    @property
    def first_token_seconds(self) -> float | None:
        return self.steps[0].seconds if self.steps else None

    def stop(self) -> None:
        """End the generation before its next token."""
        self._cancel.set()

    def should_end(self, deadline: float) -> bool:
        """Checked by the producer before each token: Stop was asked for, or the wall-clock
        limit passed (and `stop_reason` says which)."""
        if self._cancel.is_set():
            self.stop_reason = STOPPED
        elif time.perf_counter() > deadline:
            self.stop_reason = time_limit_reason()
        else:
            return False
        return True

    def begin(self) -> tuple[float, float]:
        """Mark the stream started (once): its start time and wall-clock deadline."""
        if self._started:
            raise RuntimeError(f"A {type(self).__name__} can be iterated once; start a new one.")
        self._started = True
        started = time.perf_counter()
        self.stop_reason = MAX_NEW_TOKENS_REACHED
        return started, started + time_limit_seconds()

    def __iter__(self) -> Iterator[Step]:
        started, deadline = self.begin()
        try:
            yield from self._produce(started, deadline)
        except GeneratorExit:  # the reader closed the stream (Stop, or the tab is gone): a stop too
            self.stop_reason = STOPPED
            raise

    def _produce(self, started: float, deadline: float) -> Iterator[Step]:
        """The steps, one at a time; check `should_end(deadline)` before each token."""
        raise NotImplementedError


@dataclass(frozen=True)
class GenerationRequest:
    """A prompt and its settings, checked and cleaned: build it with `checked`, once per request.
    Engines open their streams from it and do not check it again (what they still check needs
    the model: the window, the token numbers)."""

    prompt: str  # the user's text, cleaned (without the chat template)
    settings: GenerationSettings

    @classmethod
    def checked(cls, prompt: str, settings: GenerationSettings) -> GenerationRequest:
        """Raises `InputError` naming the fix when a setting is out of range or the prompt is not text."""
        settings.validate()
        return cls(clean_text(prompt, "prompt"), settings)


def submit_stream(
    queue_key: str, open_stream: Callable[..., StepStream], request: GenerationRequest,
    *more: Hashable, owner: str | None = None, slot: str | None = None, client: str | None = None,
    joinable: bool = False, about: str | Lazy = "",
) -> Job:
    """Queue a generation on any engine. The queue's worker opens `open_stream(request, *more)`
    and publishes each step as it comes (`job.stream()`); the finished stream is `job.outcome()`.
    Generations on one queue run one at a time, unless they are `joinable`: those decode together
    (their stream provides the batch, scheduler.py). A greedy or seeded generation is
    deterministic: visitors asking for the same one while it runs (a room opening one link)
    follow that one run."""
    key = (open_stream, request, *more)
    settings = request.settings
    deterministic = settings.greedy or settings.seed is not None
    return SCHEDULER.submit(
        queue_key, open_stream, request, *more, streaming=True, owner=owner, slot=slot, client=client, request_key=key,
        share_key=key if deterministic else None, joinable=joinable, about=about,
    )


def branch_settings(settings: GenerationSettings, at_step: int) -> GenerationSettings:
    """The settings of a 'what if' run from step `at_step`: the same, with the tokens left."""
    return replace(settings, max_new_tokens=max(1, settings.max_new_tokens - at_step))
