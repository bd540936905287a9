"""Strangers' strings on a page that reads Markdown."""

from __future__ import annotations

import re

# What can start Markdown that matters in one line of text: emphasis, code, links and images
# (no link without "[": ":colour[...]" directives die with it too), HTML, LaTeX, tables,
# strikethrough, a heading at the start. Dots, dashes and colons stay as they are, readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|#])")


def plain(text: object) -> str:
    """Text shown literally where Streamlit reads Markdown (errors, captions, warnings): links,
    images, emphasis, LaTeX, :colour[...] and headings in a stranger's string stay characters."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
