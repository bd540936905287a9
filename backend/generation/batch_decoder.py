"""Several visitors' generations decoded together: one forward pass per step for all of them.

A decode step of a small model reads all of its weights to produce one token; with the sequences
of every waiting visitor stacked in one batch, the weights are read once for all of them, which is
how serving engines serve many users. `BatchDecoder` keeps the active rows (one per generation),
each with its own settings, random generator, sampling processors, stop tokens, time limit and
per-token record, and one key/value cache for the batch (transformers' `DynamicCache`):
- the streams that join at the same step are prefilled together (their prompts padded on the
  left to the longest, one forward pass; a lone joiner is prefilled unpadded), and their cache
  rows are appended to the batch's: the shorter side is padded on the left, and the attention
  mask and per-row position ids make the padding invisible;
- a stream that ends (its end token, max new tokens, Stop, its time limit) leaves at once: its
  rows are dropped from the cache (`batch_select_indices`), and padding every row still has on
  the left is trimmed.
A row decoded with others gets the same tokens as alone and probabilities within float rounding
(tests/backend/test_batch_decoder.py checks it token for token).

Why not transformers' own continuous batching (`generate_batch`, `init_continuous_batching`): its
requests report the chosen token's log-probability only, where the page shows every step's full
distribution (rank, entropy, the top candidates before and after the filters), attention when
recorded, forced tokens and the repetition penalty per visitor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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
    END_OF_ANSWER,
    Candidate,
    GenerationSettings,
    Step,
)
from backend.runtime import device as devices
from backend.runtime.loaded_model import LoadedModel, RunInfo
from backend.shared.tokens import piece_text, token_bytes

TOP_ALTERNATIVES = 10  # candidates kept per step, before and after sampling's filters
_EMA = 0.3  # weight of the newest step in the step-time estimate


class DecodedStream(Protocol):
    """A stream that can join a batch: what `BatchDecoder` reads of each row's stream, and the
    record it keeps there (`steps`, `stop_reason`, `run`)."""

    settings: GenerationSettings
    steps: list[Step]
    stop_reason: str
    run: RunInfo | None

    @property
    def prefix(self) -> Sequence[int]:
        """New tokens of an earlier run this one continues from (its first step's index is their count)."""

    @property
    def force(self) -> int | None:
        """The first token, chosen by the user instead of drawn (None: drawn)."""

    def should_end(self, deadline: float) -> bool:
        """Stop was asked for, or `deadline` passed (setting `stop_reason`)."""

    def stop(self) -> None:
        """End before the next token."""


@dataclass(eq=False)
class Row:
    """One generation in the batch."""

    stream: DecodedStream
    processors: LogitsProcessorList
    generator: torch.Generator | None
    ids: torch.Tensor  # [1, tokens]: prompt, earlier new tokens, and the ones drawn here
    started: float
    deadline: float
    length: int = 0  # tokens of this row in the batch's cache
    made: int = 0  # new tokens drawn by this decoder

    @property
    def left(self) -> int:
        return self.stream.settings.max_new_tokens - self.made


def processors(settings: GenerationSettings) -> LogitsProcessorList:
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


def generator(settings: GenerationSettings, device: torch.device) -> torch.Generator | None:
    """The row's own random numbers: seeded, or from the clock; none when greedy."""
    if settings.greedy:
        return None
    drawn = torch.Generator(device=device)
    drawn.manual_seed(settings.seed if settings.seed is not None else int(time.time_ns() % 2**32))
    return drawn


def end_ids(handle: LoadedModel) -> set[int]:
    eos = handle.model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if handle.preprocessor.eos_token_id is not None:
        ids.add(handle.preprocessor.eos_token_id)
    return ids


def candidates(tokenizer, probs: torch.Tensor, k: int = TOP_ALTERNATIVES) -> tuple[Candidate, ...]:
    values, ids = probs.topk(min(k, probs.shape[-1]))
    return tuple(
        Candidate(int(i), piece_text(tokenizer, int(i)), float(v)) for v, i in zip(values.tolist(), ids.tolist()) if v > 0
    )


class BatchDecoder:
    """The rows decoded together on one model. `add` a stream (it is prefilled at the next
    `step`); each `step` draws one token for every row and returns `(stream, step or None,
    ended)` for each row that drew or ended. One thread steps it; the model's lock is held
    during a step only, so other requests on the model can run between two steps."""

    def __init__(self, handle: LoadedModel) -> None:
        self.handle = handle
        self.stop_ids = end_ids(handle)
        self.special_ids = self.stop_ids | set(handle.preprocessor.all_special_ids)
        self.rows: list[Row] = []  # in the cache's batch order
        self.joining: list[Row] = []
        self.cache: DynamicCache | None = None
        self.step_seconds: float | None = None  # a step's duration (moving average)

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.joining)

    def add(self, stream: DecodedStream, prompt_ids: list[int], started: float, deadline: float) -> None:
        """Seat `stream` (begun at `started`, to end by `deadline`); it is prefilled at the next step."""
        settings = stream.settings
        ids = torch.tensor([prompt_ids], device=self.handle.device)
        self.joining.append(Row(stream, processors(settings), generator(settings, self.handle.device), ids, started, deadline))

    def seconds_left(self) -> list[float]:
        """About how long each row still decodes (for a waiting visitor's estimate)."""
        per_step = self.step_seconds or 0.1
        return sorted(row.left * per_step for row in [*self.rows, *self.joining])

    # --- one step ---
    def step(self) -> list[tuple[DecodedStream, Step | None, bool]]:
        began = time.perf_counter()
        news: list[tuple[DecodedStream, Step | None, bool]] = []
        ended = [row for row in [*self.rows, *self.joining] if row.stream.should_end(row.deadline)]
        self._leave(ended)
        news += [(row.stream, None, True) for row in ended]
        if self.handle.device.type == "cpu":
            devices.use_threads(devices.threads_for_rows(len(self.rows) + len(self.joining)))
        with self.handle.lock, torch.inference_mode():
            if self.rows:
                logits, attention = self._decode()
                news += self._draw(self.rows, logits, attention)
            if self.joining:
                logits, attention, cache = self._prefill(self.joining)
                news += self._draw(self.joining, logits, attention)
                self._join(self.joining, cache)
            self.joining = []
            done = [row for row in self.rows if self._finished(row)]
            self._leave(done)
        news += [(row.stream, None, True) for row in done]
        took = time.perf_counter() - began
        if self.rows or done:
            self.step_seconds = took if self.step_seconds is None else (1 - _EMA) * self.step_seconds + _EMA * took
        return news

    def _finished(self, row: Row) -> bool:
        last = row.stream.steps[-1].token_id if row.stream.steps else None
        if last in self.stop_ids:
            row.stream.stop_reason = END_OF_ANSWER
            return True
        return row.left <= 0

    def _decode(self) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """One forward pass for every row: each row's last token."""
        model, rows = self.handle.model, self.rows
        recording = any(row.stream.settings.record_attention for row in rows)
        width = self.cache.get_seq_length()
        feed = torch.stack([row.ids[0, -1:] for row in rows])
        extra = {}
        if any(row.length < width for row in rows):  # someone has padding on the left
            mask = torch.ones(len(rows), width + 1, dtype=torch.long, device=self.handle.device)
            for i, row in enumerate(rows):
                mask[i, : width - row.length] = 0
            positions = torch.tensor([[row.length] for row in rows], device=self.handle.device)
            extra = {"attention_mask": mask, "position_ids": positions}
        out = model(
            input_ids=feed, past_key_values=self.cache, use_cache=True, output_attentions=recording, logits_to_keep=1, **extra,
        )
        for row in rows:
            row.length += 1
        attention = [layer[:, :, -1, :] for layer in out.attentions] if recording and out.attentions else None
        return out.logits[:, -1].float(), attention

    def _prefill(self, rows: list[Row]) -> tuple[torch.Tensor, list[torch.Tensor] | None, DynamicCache]:
        """The joining rows' prompts in one forward pass, padded on the left to the longest."""
        model, device = self.handle.model, self.handle.device
        cache = DynamicCache(config=model.config)
        recording = any(row.stream.settings.record_attention for row in rows)
        width = max(row.ids.shape[1] for row in rows)
        extra = {}
        if len(rows) == 1:
            feed = rows[0].ids
        else:
            feed = torch.zeros(len(rows), width, dtype=rows[0].ids.dtype, device=device)
            mask = torch.zeros(len(rows), width, dtype=torch.long, device=device)
            for i, row in enumerate(rows):
                feed[i, width - row.ids.shape[1] :] = row.ids[0]
                mask[i, width - row.ids.shape[1] :] = 1
            extra = {"attention_mask": mask, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}
        out = model(input_ids=feed, past_key_values=cache, use_cache=True, output_attentions=recording, logits_to_keep=1, **extra)
        for row in rows:
            row.length = row.ids.shape[1]
        attention = [layer[:, :, -1, :] for layer in out.attentions] if recording and out.attentions else None
        return out.logits[:, -1].float(), attention, cache

    def _draw(self, rows: list[Row], logits: torch.Tensor, attention: list[torch.Tensor] | None) -> list[tuple[DecodedStream, Step, bool]]:
        """Each row's token from its row of logits, and its record."""
        tokenizer = self.handle.preprocessor
        probs = logits.softmax(-1)
        entropies = (torch.special.entr(probs).sum(-1) / math.log(2)).tolist()
        news = []
        for i, row in enumerate(rows):
            stream, settings = row.stream, row.stream.settings
            forced = row.made == 0 and stream.force is not None
            if forced:
                choice, after, kept, drawn = int(stream.force), (), None, None
            else:
                scores = row.processors(row.ids, logits[i : i + 1])[0] if row.processors else logits[i]
                if settings.greedy:
                    choice, drawn, kept = int(scores.argmax()), 1.0, 1
                    after = (Candidate(choice, piece_text(tokenizer, choice), 1.0),)
                else:
                    drawn_from = scores.softmax(-1)
                    choice = int(torch.multinomial(drawn_from, 1, generator=row.generator))
                    drawn, kept = float(drawn_from[choice]), int((drawn_from > 0).sum())
                    after = candidates(tokenizer, drawn_from)
            seen = None
            if attention is not None and settings.record_attention:
                # this row's keys only: its last `length` columns (the rest is padding)
                seen = torch.stack([layer[i, :, -row.length :] for layer in attention]).to(torch.float16).cpu().numpy()
            p = probs[i]
            step = Step(
                index=len(stream.prefix) + row.made, token_id=choice, text=piece_text(tokenizer, choice),
                probability=float(p[choice]), rank=int((p > p[choice]).sum()) + 1,
                seconds=time.perf_counter() - row.started, before=candidates(tokenizer, p),
                after=after, entropy_bits=entropies[i], kept=kept, drawn_probability=drawn,
                special=choice in self.special_ids, forced=forced, attention=seen,
                raw=(token_bytes(tokenizer, [choice]) or [None])[0],
            )
            stream.steps.append(step)
            stream.run = self.handle.run_info(row.started)
            row.made += 1
            row.ids = torch.cat([row.ids, torch.tensor([[choice]], device=row.ids.device)], dim=1)
            news.append((stream, step, False))
        return news

    # --- the batch's cache ---
    def _join(self, rows: list[Row], cache: DynamicCache) -> None:
        """Append the joining rows' cache to the batch's, padding the shorter side on the left."""
        if self.cache is None:
            self.cache, self.rows = cache, list(rows)
            return
        width, theirs = self.cache.get_seq_length(), cache.get_seq_length()
        merged = []
        for mine, new in zip(self.cache.layers, cache.layers, strict=True):
            keys = torch.cat([_pad_left(mine.keys, theirs - width), _pad_left(new.keys, width - theirs)])
            values = torch.cat([_pad_left(mine.values, theirs - width), _pad_left(new.values, width - theirs)])
            merged.append((keys, values))
        self.cache = DynamicCache(merged, config=self.handle.model.config)
        self.rows.extend(rows)

    def _leave(self, gone: list[Row]) -> None:
        if not gone:
            return
        self.joining = [row for row in self.joining if row not in gone]
        keep = [i for i, row in enumerate(self.rows) if row not in gone]
        if len(keep) == len(self.rows):
            return
        self.rows = [self.rows[i] for i in keep]
        if not self.rows:
            self.cache = None
            return
        self.cache.batch_select_indices(torch.tensor(keep, device=self.handle.device))
        trim = self.cache.get_seq_length() - max(row.length for row in self.rows)  # padding left in every row
        if trim > 0:
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, trim:], layer.values[:, :, trim:]


def _pad_left(states: torch.Tensor, by: int) -> torch.Tensor:
    """[batch, heads, length, dim] with `by` zero positions before the first (none when by <= 0)."""
    if by <= 0:
        return states
    return torch.nn.functional.pad(states, (0, 0, by, 0))
