"""Text generation one token at a time, with every step's odds: iterate a `GenerationStream`.

The loop is written out (prefill, then one forward pass per new token with the key/value cache)
instead of calling `model.generate`, so that each step can report what the model thought before
it picked: the chosen token's probability and rank, the distribution's entropy, the top
candidates before and after sampling's filters (repetition penalty, temperature, top-k, top-p,
the same transformers processors `generate` uses), and, on request, where the predicting
position attended. Greedy output equals `model.generate` token for token (a test checks it).

The stream runs in the thread that iterates it and holds the model's lock while it does;
`stop()` (or closing the iterator) ends it before the next token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import torch
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from backend.generation.token_steps import (
    Candidate,
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
from backend.runtime.scheduler import Job
from backend.shared.text_input import check_token_count, clean_text, well_formed

MAX_PROMPT_TOKENS = 2048
TOP_ALTERNATIVES = 10  # candidates kept per step, before and after sampling's filters


def _processors(settings: GenerationSettings) -> LogitsProcessorList:
    """The same processors, in the same order, as `model.generate` builds for these settings."""
    chain = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        chain.append(RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty)))
    if not settings.greedy:
        if settings.temperature != 1.0:
            chain.append(TemperatureLogitsWarper(float(settings.temperature)))
        if settings.top_k > 0:
            chain.append(TopKLogitsWarper(settings.top_k))
        if settings.top_p < 1.0:
            chain.append(TopPLogitsWarper(float(settings.top_p)))
    return chain


def _candidates(tokenizer, probs: torch.Tensor, k: int) -> tuple[Candidate, ...]:
    values, ids = probs.topk(min(k, probs.shape[-1]))
    return tuple(
        Candidate(int(i), tokenizer.decode([int(i)]), float(v)) for v, i in zip(values.tolist(), ids.tolist()) if v > 0
    )


def end_ids(handle: LoadedModel) -> set[int]:
    eos = handle.model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if handle.preprocessor.eos_token_id is not None:
        ids.add(handle.preprocessor.eos_token_id)
    return ids


def model_window(handle: LoadedModel) -> int:
    """How many positions (prompt + generated) the model was built for."""
    config = handle.model.config
    return int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 1024))


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

    def _produce(self, started: float, deadline: float) -> Iterator[Step]:
        with self.handle.lock, torch.inference_mode():
            yield from self._decode(started, deadline)

    def _decode(self, started: float, deadline: float) -> Iterator[Step]:
        handle, settings = self.handle, self.settings
        model, tokenizer = handle.model, handle.preprocessor
        processors = _processors(settings)
        generator = None
        if not settings.greedy:
            generator = torch.Generator(device=handle.device)
            generator.manual_seed(settings.seed if settings.seed is not None else int(time.time_ns() % 2**32))
        stop_ids = end_ids(handle)
        special_ids = stop_ids | set(tokenizer.all_special_ids)
        ids = torch.tensor([self.prompt_ids + self.prefix], device=handle.device)
        cache = DynamicCache(config=model.config)
        feed = ids
        for n in range(settings.max_new_tokens):
            if self._should_end(deadline):
                break
            out = model(
                input_ids=feed, past_key_values=cache, use_cache=True,
                output_attentions=settings.record_attention, logits_to_keep=1,
            )
            logits = out.logits[0, -1].float()
            probs = logits.softmax(-1)
            entropy = float(torch.special.entr(probs).sum()) / math.log(2)
            forced = n == 0 and self.force is not None
            if forced:
                choice, after, kept, drawn = int(self.force), (), None, None
            else:
                scores = processors(ids, logits[None])[0] if processors else logits
                if settings.greedy:
                    choice = int(scores.argmax())
                    drawn, kept = 1.0, 1
                    after = (Candidate(choice, tokenizer.decode([choice]), 1.0),)
                else:
                    drawn_from = scores.softmax(-1)
                    choice = int(torch.multinomial(drawn_from, 1, generator=generator))
                    drawn, kept = float(drawn_from[choice]), int((drawn_from > 0).sum())
                    after = _candidates(tokenizer, drawn_from, TOP_ALTERNATIVES)
            attention = None
            if settings.record_attention and out.attentions:
                attention = torch.stack([layer[0, :, -1, :] for layer in out.attentions]).to(torch.float16).cpu().numpy()
            step = Step(
                index=len(self.prefix) + n, token_id=choice, text=tokenizer.decode([choice]),
                probability=float(probs[choice]), rank=int((probs > probs[choice]).sum()) + 1,
                seconds=time.perf_counter() - started, before=_candidates(tokenizer, probs, TOP_ALTERNATIVES),
                after=after, entropy_bits=entropy, kept=kept, drawn_probability=drawn,
                special=choice in special_ids, forced=forced, attention=attention,
            )
            self.steps.append(step)
            self.run = handle.run_info(started)
            yield step
            if choice in stop_ids:
                self.stop_reason = "end of answer"
                break
            feed = torch.tensor([[choice]], device=handle.device)
            ids = torch.cat([ids, feed], dim=1)
        self.run = handle.run_info(started)


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
            f"The prompt ({prompt_tokens} tokens) plus {max_new_tokens} new tokens is more than "
            f"{model_name}'s window of {window} tokens. Lower max new tokens to at most "
            f"{window - prompt_tokens}, or shorten the prompt."
        )


def generate(
    prompt: str, settings: GenerationSettings | None = None, model_key: str = SMOLLM2.key,
    prefix: Sequence[int] = (), force: int | None = None,
) -> GenerationStream:
    """Check the inputs, load the model, encode the prompt; iterate the stream for the steps.
    `prefix` (earlier new tokens) and `force` (the next one) continue a generation from any step."""
    settings = settings or GenerationSettings()
    settings.validate()
    prompt = clean_text(prompt, "prompt")
    handle = get_model(model_key)
    with handle.lock:  # the tokenizer is shared too
        prompt_ids = encode_prompt(handle, prompt, settings.chat, settings.system_prompt)
        pieces = [handle.preprocessor.decode([i]) for i in prompt_ids]
    check_window(len(prompt_ids) + len(prefix), settings.max_new_tokens, model_window(handle), handle.spec.name)
    recorded = len(prompt_ids) + len(prefix) + settings.max_new_tokens
    if settings.record_attention and recorded > limits().recorded_attention_tokens:
        raise InputError(
            f"Recording attention keeps every layer's weights for every token: at most "
            f"{limits().recorded_attention_tokens} tokens (prompt + new) here, and this asks for {recorded}. "
            "Lower max new tokens, shorten the prompt, or turn recording off (the view still works, one pass when opened)."
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
        pieces = [handle.preprocessor.decode([i]) for i in ids]
    if len(ids) != 1:
        raise InputError(
            f"{text!r} is {len(ids)} tokens for {handle.spec.name} ({' | '.join(repr(p) for p in pieces)}), "
            "not one. Force one of them, or pick an alternative from the list."
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
    the finished `GenerationStream` is `job.outcome()`."""
    prefix = tuple(int(i) for i in prefix)
    return submit_stream(
        model_key, generate, prompt, settings or GenerationSettings(), model_key, prefix, force, owner=owner, slot=slot, client=client
    )
