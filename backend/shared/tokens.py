"""Tokens as a person should read them.

A byte-level BPE tokenizer (SmolLM2's, GPT-2's) cuts text into pieces of UTF-8 bytes, so one
Chinese character (three bytes) is often split over two or three tokens, and a piece decoded on
its own is "�". Here the pieces are read as bytes and the text as characters: each character is
shown on the token that completes it, and a token that only starts a character shows the
character with the part it carries ("注 1/2"), so no "�" appears and the split stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from backend.runtime.loaded_model import LoadedModel


@cache
def _byte_of() -> dict[str, int]:
    """The byte-level alphabet back to bytes: GPT-2's mapping of the 256 bytes to printable
    characters (printable Latin-1 bytes stand for themselves, the others for 256 onwards), which
    every byte-level BPE tokenizer uses."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(kept), 0
    for byte in range(256):
        if byte not in kept:
            kept.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(kept, chars, strict=True)}


def token_bytes(tokenizer, ids: Sequence[int]) -> list[bytes] | None:
    """Each token's UTF-8 bytes for a byte-level BPE tokenizer; None for any other kind."""
    table = _byte_of()
    tokens = tokenizer.convert_ids_to_tokens([int(i) for i in ids])
    special = set(getattr(tokenizer, "all_special_tokens", ()))
    pieces = []
    for token in tokens:
        if token is None:
            return None
        if token in special:
            pieces.append(token.encode("utf-8"))
        elif all(char in table for char in token):
            pieces.append(bytes(table[char] for char in token))
        else:
            return None  # not a byte-level vocabulary (WordPiece, SentencePiece)
    return pieces


def _length(lead: int) -> int:
    """A UTF-8 sequence's length from its first byte (1 for a byte that cannot start one)."""
    return 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF8 else 1


def characters(pieces: Sequence[bytes]) -> list[str]:
    """Each token's text as characters (see the module's docstring). A byte that is not valid
    UTF-8 shows as `\\xNN`; a character the sequence ends before completing shows its bytes."""
    data = b"".join(pieces)
    owner = [k for k, piece in enumerate(pieces) for _ in piece]
    out = [""] * len(pieces)
    i = 0
    while i < len(data):
        n = _length(data[i])
        chunk = data[i : i + n]
        try:
            char = chunk.decode("utf-8")
        except UnicodeDecodeError:
            char, n = chunk[:1].decode("utf-8", "backslashreplace"), 1
            chunk = data[i : i + 1]
        tokens = sorted(set(owner[i : i + n]))
        if len(tokens) == 1:
            out[tokens[0]] += char
        else:
            for part, k in enumerate(tokens, 1):
                out[k] += char if k == tokens[-1] else f"{char} {part}/{len(tokens)}"
        i += n
    return out


def readable(tokenizer, ids: Sequence[int]) -> list[str]:
    """Each token's text, with byte-level pieces read together as characters (see `characters`)."""
    pieces = token_bytes(tokenizer, ids)
    if pieces is None:
        return [tokenizer.decode([int(i)]) for i in ids]
    return characters(pieces)


def piece_text(tokenizer, token_id: int) -> str:
    """One token on its own: its text, or, for a byte-level piece of a character, its bytes
    (`\xe6\xb3`) instead of "�"."""
    text = tokenizer.decode([int(token_id)])
    if "\ufffd" in text:
        pieces = token_bytes(tokenizer, [token_id])
        if pieces is not None:
            return pieces[0].decode("utf-8", "backslashreplace")
    return text


def display_tokens(handle: LoadedModel, ids: list[int]) -> list[str]:
    """Readable token strings: WordPiece '##ing' stays, byte-level BPE 'Ġword' becomes ' word',
    and a character split over byte-level pieces is read whole (see `characters`)."""
    tokenizer = handle.preprocessor
    if handle.extras.get("causal"):
        return readable(tokenizer, ids)
    return tokenizer.convert_ids_to_tokens(ids)
