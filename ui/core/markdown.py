"""Strangers' strings on a page that reads Markdown."""

from __future__ import annotations

import re

# What can start Markdown that matters in one line of text: emphasis, code, links and images
# (no link without "[": ":colour[...]" directives die with it too), HTML and entities ("&#91;"
# would come back as "["), LaTeX, tables, strikethrough, a heading at the start. Dots, dashes and
# colons stay as they are, readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|#!&])")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
# GitHub-flavoured Markdown (Streamlit's) makes a link of a bare "https://...", "www...." or
# "name@host.tld" in plain text, after escapes are resolved, so no backslash stops it. An invisible
# word joiner inside "://", after "www" and after "@" does: nothing to see, nothing to click.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www)(?=\.))|(?<=@)")
_JOINER = "\u2060"


def plain(text: object) -> str:
    """Text shown literally where Streamlit reads Markdown (errors, captions, warnings, metric
    values, widget labels): links, bare URLs and e-mail addresses, images, HTML, emphasis, LaTeX,
    :colour[...] and headings in a stranger's string stay characters, on one line."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", str(text)))
    return _AUTOLINK.sub(_JOINER, escaped)
