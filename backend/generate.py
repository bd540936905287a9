"""Text generation that streams: iterate a `GenerationStream` to get text pieces as they come.

`model.generate` runs in a worker thread that holds the model's lock; the pieces arrive through
transformers' `TextIteratorStreamer`. When the reader stops early (a Streamlit rerun, a closed
tab), closing the stream tells the worker to stop at the next token, so the shared model is
not kept busy for nobody.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from backend.errors import InputError
from backend.models import LoadedModel, RunInfo, get_model
from backend.registry import SMOLLM2
from backend.scheduler import SCHEDULER, Job
from backend.text_input import check_token_count, clean_text

MAX_NEW_TOKENS = 1024
MAX_PROMPT_TOKENS = 2048


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 128
    temperature: float = 0.3  # 0 means greedy: always the most likely next token
    top_p: float = 0.95
    seed: int | None = None
    chat: bool = True  # wrap the prompt in the model's chat template, when it has one

    def validate(self) -> None:
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InputError(f"Max new tokens must be a whole number from 1 to {MAX_NEW_TOKENS}.")
        if not 0.0 <= self.temperature <= 2.0:
            raise InputError("Temperature must be between 0 (greedy) and 2.")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError("Top-p must be above 0 and at most 1.")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32
        ):
            raise InputError("The seed must be a whole number from 0 to 4294967295.")


class _StopWhen(StoppingCriteria):
    """Stops generation once `event` is set, and remembers that it did."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.fired = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> bool:
        self.fired = self.fired or self.event.is_set()
        return self.fired


def _pad_token_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


class GenerationStream:
    """Iterable of text pieces. After iteration: `text`, `new_tokens`, `run`, `stop_reason`."""

    def __init__(self, handle: LoadedModel, inputs: dict[str, torch.Tensor], settings: GenerationSettings) -> None:
        self.handle = handle
        self.inputs = inputs
        self.settings = settings
        self.text = ""
        self.new_tokens = 0
        self.prompt_tokens = int(inputs["input_ids"].shape[1])
        self.stop_reason = ""
        self.run: RunInfo | None = None
        self._cancel = threading.Event()
        self._error: BaseException | None = None
        self._started = False

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.run.seconds if self.run and self.run.seconds > 0 else 0.0

    def _work(self, streamer: TextIteratorStreamer) -> None:
        handle, settings = self.handle, self.settings
        try:
            with handle.lock, torch.inference_mode():
                started = time.perf_counter()
                sampling = settings.temperature > 0
                stop_when_cancelled = _StopWhen(self._cancel)
                kwargs = dict(
                    max_new_tokens=settings.max_new_tokens,
                    do_sample=sampling,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([stop_when_cancelled]),
                    pad_token_id=_pad_token_id(handle.preprocessor),
                )
                if sampling:
                    kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
                    if settings.seed is not None:  # the global RNG; safe, we hold the model lock
                        torch.manual_seed(settings.seed)
                else:  # unset sampling knobs so transformers does not warn they are ignored
                    kwargs.update(temperature=None, top_p=None, top_k=None)
                output = handle.model.generate(**self.inputs, **kwargs)
                new = output[0, self.prompt_tokens :]
                self.new_tokens = int(new.shape[0])
                eos = handle.model.generation_config.eos_token_id
                eos_ids = set(eos if isinstance(eos, list) else [eos])
                if stop_when_cancelled.fired:
                    self.stop_reason = "stopped"
                elif self.new_tokens and int(new[-1]) in eos_ids:
                    self.stop_reason = "end of answer"
                else:
                    self.stop_reason = "max new tokens"
                self.run = handle.run_info(started)
        except BaseException as exc:  # handed to the reader, which raises it
            self._error = exc
        finally:
            streamer.end()

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("A GenerationStream can be iterated once; call generate() again.")
        self._started = True
        streamer = TextIteratorStreamer(
            self.handle.preprocessor, skip_prompt=True, skip_special_tokens=True
        )
        worker = threading.Thread(target=self._work, args=(streamer,), daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if self._error is not None:
                    break
                if piece:
                    self.text += piece
                    yield piece
        finally:
            self._cancel.set()  # no-op when generation already ended
            worker.join()
        if self._error is not None:
            raise self._error


def _encode(handle: LoadedModel, prompt: str, chat: bool) -> dict[str, torch.Tensor]:
    tokenizer = handle.preprocessor
    if chat and handle.extras.get("chat"):
        messages = [{"role": "user", "content": prompt}]
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
    else:
        encoded = tokenizer(prompt, return_tensors="pt")
    check_token_count(encoded["input_ids"].shape[1], MAX_PROMPT_TOKENS, "prompt", handle.spec.name)
    return {k: v.to(handle.device) for k, v in encoded.items()}


def generate(
    prompt: str, settings: GenerationSettings | None = None, model_key: str = SMOLLM2.key
) -> GenerationStream:
    """Check the inputs, load the model, encode the prompt; iterate the stream for the text."""
    settings = settings or GenerationSettings()
    settings.validate()
    prompt = clean_text(prompt, "prompt")
    handle = get_model(model_key)
    with handle.lock:  # the tokenizer is shared too
        inputs = _encode(handle, prompt, settings.chat)
    return GenerationStream(handle, inputs, settings)


def _run_job(jobs: Sequence[Job]) -> list[GenerationStream]:
    """Generate for one queued job, publishing each piece as it comes; stops early on request."""
    (job,) = jobs
    prompt, settings, model_key = job.payload
    stream = generate(prompt, settings, model_key)
    with closing(iter(stream)) as pieces:  # closing ends the worker thread when we stop early
        for piece in pieces:
            job.publish(piece)
            if job.stop_requested or not SCHEDULER.owner_alive(job.owner):  # Stop, or the tab closed
                break
    return [stream]


def submit_generate(
    prompt: str,
    settings: GenerationSettings | None = None,
    model_key: str = SMOLLM2.key,
    *,
    owner: str | None = None,
    slot: str | None = None,
) -> Job:
    """Queue a generation; its text arrives through `job.stream()`, the finished
    `GenerationStream` (text, tokens, stop reason) is `job.outcome()`. Generations run one at a time."""
    settings = settings or GenerationSettings()
    settings.validate()
    prompt = clean_text(prompt, "prompt")
    return SCHEDULER.submit(
        model_key, _run_job, (prompt, settings, model_key),
        owner=owner, slot=slot, request_key=("generate", model_key, prompt, settings),
    )
