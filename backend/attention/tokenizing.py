"""How each model cuts a text into tokens: MiniLM's WordPiece, SmolLM2's byte-level BPE and Gemma 3's
SentencePiece, side by side.

An English WordPiece vocabulary has few Chinese characters: most become [UNK], and the encoder
reads nothing of them; a byte-level BPE never has an unknown token (any text is bytes), but spends
two or three tokens on one Chinese character; a vocabulary built from many languages (Gemma 3's
262,144 pieces) holds whole Chinese words. The counts make all three visible on the same sentence.
Gemma 3's cut needs only its tokenizer, not the model (1 GB): it is loaded alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.runtime.model_cache import get_model, tokenizer_of
from backend.runtime.registry import GEMMA3, MINILM, SMOLLM2
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import n_
from backend.shared.text_input import clean_text
from backend.shared.tokens import display_tokens, readable

COMPARED = (MINILM.key, SMOLLM2.key, GEMMA3.key)  # the encoder and the two decoders the app ships
KINDS = {MINILM.key: n_("WordPiece (an English vocabulary of 30,522 pieces)"),
         SMOLLM2.key: n_("byte-level BPE (49,152 pieces over UTF-8 bytes)"),
         GEMMA3.key: n_("SentencePiece (262,144 pieces from many languages, whole Chinese words among them)")}
MOST_TOKENS = 512  # tokens shown per model; the counts are of the whole text


@dataclass(frozen=True)
class Cut:
    """A text as one model's tokenizer cuts it."""

    model: str  # its name
    kind: str  # English, translated where shown
    tokens: tuple[str, ...]  # readable (split characters read whole: `backend/shared/tokens`), at most MOST_TOKENS
    count: int  # tokens in the whole text
    unknown: int  # of them, the unknown token ([UNK]): text the model cannot read at all
    characters: int  # characters in the text


def cut(model_key: str, text: str) -> Cut:
    if model_key == GEMMA3.key:  # the tokenizer alone
        name, tokenizer = GEMMA3.name, tokenizer_of(GEMMA3)
        shown = lambda ids: readable(tokenizer, ids)  # noqa: E731
    else:
        handle = get_model(model_key)
        name, tokenizer = handle.spec.name, handle.preprocessor
        shown = lambda ids: display_tokens(handle, ids)  # noqa: E731
    ids = tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
    unknown = sum(i == tokenizer.unk_token_id for i in ids) if tokenizer.unk_token_id is not None else 0
    return Cut(name, KINDS.get(model_key, ""), tuple(shown(ids[:MOST_TOKENS])), len(ids), unknown, len(text))


def submit_cut(model_key: str, text: str, *, owner: str | None = None, slot: str | None = None,
               client: str | None = None) -> Job:
    """Queue the cut on the model's own queue (its tokenizer is the model's)."""
    text = clean_text(text)
    return SCHEDULER.submit(model_key, cut, model_key, text, owner=owner, slot=slot, client=client,
                            request_key=("cut", model_key, text))
