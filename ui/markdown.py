"""Strangers' strings on a page that reads Markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&=^])")


def plain(text: object) -> str:
    """Text shown literally where Streamlit reads Markdown (errors, captions, warnings): links,
    images, emphasis, LaTeX, :colour[...] and headings in a stranger's string stay characters."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
