"""Text generation one token at a time, with every step's odds: iterate a `GenerationStream`.

The loop is written out (prefill, then one forward pass per new token with the key/value cache)
instead of calling `model.generate`, so that each step can report what the model thought before
it picked: the chosen token's probability and rank, the distribution's entropy, the top
candidates before and after sampling's filters (repetition penalty, temperature, top-k, top-p,
the same transformers processors `generate` uses), and, on request, where the predicting
position attended. Greedy output equals `model.generate` token for token (a test checks it).

The steps come from `BatchDecoder` (batch_decoder.py): alone when the stream is iterated, and
together with the room's other generations when the scheduler runs it (`submit_generate` queues
it `joinable`: the stream hands the queue's worker a `JoinedRun`, joined.py). `stop()` (or
closing the iterator) ends it before the next token.

The prompt and settings are checked once per request (`GenerationRequest.checked`: in `generate`,
or in `submit_generate` before queueing); `open_generation` adds the checks that need the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from backend.generation.batch_decoder import BatchDecoder
from backend.generation.joined import JoinedRun
from backend.generation.token_steps import (
    GenerationRequest,
    GenerationSettings,
    Step,
    StepStream,
    submit_stream,
)
from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.registry import SMOLLM2
from backend.runtime.scheduler import Job, ModelQueue
from backend.shared.text_input import check_token_count, well_formed
from backend.shared.tokens import readable

MAX_PROMPT_TOKENS = 2048


def model_window(handle: LoadedModel) -> int:
    """How many positions (prompt + generated) the model was built for; for a model whose local
    layers see a sliding window (Gemma 3: 512 of its 32,768), that window: within it every layer
    sees every token, so one plain key/value cache serves a batch and every layer's attention row
    has the same length."""
    config = handle.model.config
    built = int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 1024))
    sliding = getattr(config, "sliding_window", None)
    return min(built, int(sliding)) if sliding else built


class GenerationStream(StepStream):
    """Iterable of `Step`s. After iteration: `steps`, `text`, `stop_reason`, `run`."""

    def __init__(
        self, handle: LoadedModel, prompt: str, prompt_ids: list[int], prompt_pieces: list[str],
        settings: GenerationSettings, prefix: Sequence[int] = (), force: int | None = None,
    ) -> None:
        super().__init__(prompt, settings)
        self.handle = handle
        self.prompt_ids = list(prompt_ids)
        self.prompt_pieces = list(prompt_pieces)  # each prompt token as text, template included
        self.prefix = list(prefix)  # earlier new tokens this run continues from ("what if")
        self.force = force  # the first token of this run, chosen by the user

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt_ids)

    @property
    def token_ids(self) -> list[int]:
        return [step.token_id for step in self.steps]

    @property
    def text(self) -> str:
        return self.handle.preprocessor.decode(self.token_ids, skip_special_tokens=True)

    def context_pieces(self, step: int) -> list[str]:
        """The tokens the model had read when it chose new token `step`, as text."""
        return [*self.prompt_pieces, *(s.text for s in self.steps[:step])]

    def together(self) -> BatchDecoder:
        """A decoder for this stream and others on the same model (the scheduler's joined runs)."""
        return BatchDecoder(self.handle)

    def join(self, decoder: BatchDecoder) -> None:
        """Begin, seated in `decoder` with the room's other generations."""
        self._seat(decoder, *self.begin())

    def joined_batch(self, queue: ModelQueue, job: Job) -> JoinedRun:
        """The batch the queue's worker runs for `job` (this stream's): this stream seated
        first; the queue's other generations opened by the same function join it."""
        batch = JoinedRun(queue, self.together(), job.task)
        batch.add(job, self)
        return batch

    def _seat(self, decoder: BatchDecoder, started: float, deadline: float) -> None:
        decoder.add(self, self.prompt_ids + self.prefix, started, deadline)

    def _produce(self, started: float, deadline: float) -> Iterator[Step]:
        """Alone: the same decoder, with this stream its only row."""
        decoder = self.together()
        self._seat(decoder, started, deadline)
        while decoder.size:
            for _, step, _ in decoder.step():
                if step is not None:
                    yield step


def encode_prompt(handle: LoadedModel, prompt: str, chat: bool, system_prompt: str = "") -> list[int]:
    """The prompt's token ids, in the chat template when asked for and the model has one."""
    tokenizer = handle.preprocessor
    if chat and handle.extras.get("chat"):
        messages = [{"role": "system", "content": system_prompt.strip()}] if system_prompt.strip() else []
        messages.append({"role": "user", "content": prompt})
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    else:
        ids = tokenizer(prompt)["input_ids"]
    return [int(i) for i in ids]


def check_window(prompt_tokens: int, max_new_tokens: int, window: int, model_name: str) -> None:
    """Prompt and answer must fit in the positions the model was built for."""
    check_token_count(prompt_tokens, min(MAX_PROMPT_TOKENS, limits().prompt_tokens, window - 1), "prompt", model_name)
    if prompt_tokens + max_new_tokens > window:
        raise InputError(
            "The prompt ({prompt} tokens) plus {new} new tokens is more than {model}'s window of {window} tokens. "
            "Lower max new tokens to at most {most}, or shorten the prompt.",
            prompt=prompt_tokens, new=max_new_tokens, model=model_name, window=window, most=window - prompt_tokens,
        )


def generate(
    prompt: str, settings: GenerationSettings | None = None, model_key: str = SMOLLM2.key,
    prefix: Sequence[int] = (), force: int | None = None,
) -> GenerationStream:
    """Check the inputs, load the model, encode the prompt; iterate the stream for the steps.
    `prefix` (earlier new tokens) and `force` (the next one) continue a generation from any step."""
    request = GenerationRequest.checked(prompt, settings or GenerationSettings())
    return open_generation(request, model_key, tuple(prefix), force)


def open_generation(
    request: GenerationRequest, model_key: str, prefix: tuple[int, ...] = (), force: int | None = None,
) -> GenerationStream:
    """The stream for a checked request: loads the model, encodes the prompt, and checks what
    needs the model (the window, the token numbers, the attention record's size)."""
    prompt, settings = request.prompt, request.settings
    handle = get_model(model_key)
    with handle.lock:  # the tokenizer is shared too
        prompt_ids = encode_prompt(handle, prompt, settings.chat, settings.system_prompt)
        pieces = readable(handle.preprocessor, prompt_ids)  # a split character read whole
    check_window(len(prompt_ids) + len(prefix), settings.max_new_tokens, model_window(handle), handle.spec.name)
    vocabulary = handle.model.config.vocab_size
    if any(not 0 <= int(i) < vocabulary for i in [*prefix, *([force] if force is not None else [])]):
        raise InputError(
            "There is no token with that number in {model} (its tokens are 0 to {last}).",
            model=handle.spec.name, last=vocabulary - 1,
        )
    recorded = len(prompt_ids) + len(prefix) + settings.max_new_tokens
    if settings.record_attention and recorded > limits().recorded_attention_tokens:
        raise InputError(
            "Recording attention keeps every layer's weights for every token: at most {most} tokens (prompt + new) "
            "here, and this asks for {asked}. Lower max new tokens, shorten the prompt, or turn recording off "
            "(the view still works, one pass when opened).",
            most=limits().recorded_attention_tokens, asked=recorded,
        )
    return GenerationStream(handle, prompt, prompt_ids, pieces, settings, prefix, force)


def single_token(model_key: str, text: str) -> int:
    """The id of `text` as exactly one token of the model's vocabulary (for a forced token)."""
    if not isinstance(text, str) or text == "":
        raise InputError("Type the token to force (a leading space counts: ' Paris' and 'Paris' differ).")
    text = well_formed(text)
    handle = get_model(model_key)
    with handle.lock:
        ids = handle.preprocessor(text, add_special_tokens=False)["input_ids"]
        pieces = readable(handle.preprocessor, ids)
    if len(ids) != 1:
        raise InputError(
            "{text} is {count} tokens for {model} ({pieces}), not one. Force one of them, or pick an alternative from the list.",
            text=repr(text), count=len(ids), model=handle.spec.name, pieces=" | ".join(repr(p) for p in pieces),
        )
    return int(ids[0])


def submit_generate(
    prompt: str,
    settings: GenerationSettings | None = None,
    model_key: str = SMOLLM2.key,
    *,
    prefix: Sequence[int] = (),
    force: int | None = None,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
) -> Job:
    """Queue a generation on the in-process model; its `Step`s arrive through `job.stream()`,
    the finished `GenerationStream` is `job.outcome()`. It decodes together with the other
    generations queued on the model (scheduler.py, `joinable`)."""
    request = GenerationRequest.checked(prompt, settings or GenerationSettings())
    prefix = tuple(int(i) for i in prefix)
    return submit_stream(
        model_key, open_generation, request, model_key, prefix, force,
        owner=owner, slot=slot, client=client, joinable=True,
    )
