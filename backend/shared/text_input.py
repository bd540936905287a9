"""Checks on user text shared by the text tasks: nothing empty, nothing longer than the model reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.shared.language import lazy, n_

MAX_CHARS = 20_000  # far above any model limit here; stops a pasted book before tokenising it
# The names other modules give their input (`what` below), translated where an error is shown.
WHAT = (n_("text"), n_("prompt"), n_("context (prompt and earlier output)"))


def well_formed(text: str) -> str:
    """Half of a surrogate pair (from a broken copy-paste or a crafted link) is not a character,
    and tokenizers refuse the whole string for it: pairs are joined, lone halves become U+FFFD,
    NULs are dropped."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def _named(what: object) -> object:
    """`what` translated when the error is shown: a plain string is looked up as a message (the
    names in WHAT are), a `lazy()` one already is."""
    return lazy(what) if isinstance(what, str) else what


def clean_text(text: object, what: object = "text") -> str:
    """`what` names the input in messages: an English noun ("text", "prompt") or a `lazy()` one."""
    what = _named(what)
    if not isinstance(text, str):
        raise InputError("The {what} must be a string, not {kind}.", what=what, kind=type(text).__name__)
    stripped = well_formed(text).strip()
    if not stripped:
        raise InputError("The {what} is empty: type a sentence or pick an example.", what=what)
    if not any(ch.isprintable() and not ch.isspace() for ch in stripped):
        raise InputError("The {what} has no visible characters (only control or formatting characters).", what=what)
    most = min(MAX_CHARS, limits().text_chars)
    if len(stripped) > most:
        raise InputError(
            "The {what} is {count:,} characters long; the limit here is {most:,}. Shorten it.",
            what=what, count=len(stripped), most=most,
        )
    return stripped


def check_token_count(n_tokens: int, limit: int, what: object, model_name: object) -> None:
    """`what` as in `clean_text`; `model_name` names what reads at most `limit` tokens (a model's
    name, or a `lazy()` phrase)."""
    if n_tokens > limit:
        raise InputError(
            "The {what} is {count} tokens long, but {reader} reads at most {limit} here. "
            "Shorten it by about {over} tokens (roughly {words} words).",
            what=_named(what), count=n_tokens, reader=model_name, limit=limit, over=n_tokens - limit,
            words=max(1, round((n_tokens - limit) * 0.75)),
        )


@dataclass(frozen=True)
class TokenisedText:
    position: int  # where the text was in the list given
    text: str  # cleaned
    ids: list[int]


def tokenise_each(
    tokenizer: Callable[[str], Mapping[str, list[int]]], texts: Sequence[object], limit: int, reader: object
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
