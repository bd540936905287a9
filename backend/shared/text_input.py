"""Checks on user text shared by the text tasks: nothing empty, nothing longer than the model reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits

MAX_CHARS = 20_000  # far above any model limit here; stops a pasted book before tokenising it


def well_formed(text: str) -> str:
    """Half of a surrogate pair (from a broken copy-paste or a crafted link) is not a character,
    and tokenizers refuse the whole string for it: pairs are joined, lone halves become U+FFFD,
    NULs are dropped."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def clean_text(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InputError(f"The {what} must be a string, not {type(text).__name__}.")
    stripped = well_formed(text).strip()
    if not stripped:
        raise InputError(f"The {what} is empty: type a sentence or pick an example.")
    if not any(ch.isprintable() and not ch.isspace() for ch in stripped):
        raise InputError(f"The {what} has no visible characters (only control or formatting characters).")
    most = min(MAX_CHARS, limits().text_chars)
    if len(stripped) > most:
        raise InputError(f"The {what} is {len(stripped):,} characters long; the limit here is {most:,}. Shorten it.")
    return stripped


def check_token_count(n_tokens: int, limit: int, what: str, model_name: str) -> None:
    if n_tokens > limit:
        raise InputError(
            f"The {what} is {n_tokens} tokens long, but {model_name} reads at most {limit} here. "
            f"Shorten it by about {n_tokens - limit} tokens (roughly "
            f"{max(1, round((n_tokens - limit) * 0.75))} words)."
        )


@dataclass(frozen=True)
class TokenisedText:
    position: int  # where the text was in the list given
    text: str  # cleaned
    ids: list[int]


def tokenise_each(
    tokenizer: Callable[[str], Mapping[str, list[int]]], texts: Sequence[object], limit: int, reader: str
) -> tuple[list[TokenisedText], dict[int, InputError]]:
    """Clean, tokenise and count each text. The usable ones come back in order; a text that
    cannot be used gets its error at its position instead of failing the others, so requests
    from several people can share one batch. `reader` names what reads at most `limit` tokens."""
    usable: list[TokenisedText] = []
    errors: dict[int, InputError] = {}
    for position, raw in enumerate(texts):
        try:
            text = clean_text(raw)
            ids = list(tokenizer(text)["input_ids"])
            check_token_count(len(ids), limit, "text", reader)
            usable.append(TokenisedText(position, text, ids))
        except InputError as exc:
            errors[position] = exc
    return usable, errors
