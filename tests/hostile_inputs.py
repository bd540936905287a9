"""What strangers send: texts, image files, CSVs and link values that each page must answer or refuse
clearly (never a traceback), fed both to the backend and to the running app in public mode."""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import zlib
from urllib.parse import quote, urlencode

from PIL import Image

from tests.image_inputs import bad_uploads, coffee, encoded

# Markdown and HTML that would draw a stranger's links and images on the app's own pages (a
# "refund" link on the Space's domain, shared by QR code; a remote image that reports who opened
# the link): inline links and images, raw HTML, bare URLs and an e-mail address (GitHub-flavoured
# Markdown links those by itself) and a link spelled in entities. All of them point at EVIL_HOST.
EVIL_HOST = "evil.example"
MARKDOWN_LINKS = (
    "[Claim refund](https://evil.example/r) ![x](https://evil.example/p.png) "
    '<a href="https://evil.example/h">h</a> <img src="https://evil.example/i.png"> '
    "https://evil.example/u www.evil.example/w me@evil.example &#91;e&#93;(https&#58;//evil.example/e)"
)
MARKDOWN_SHORT = "[Claim refund](https://evil.example/r) ![x](https://evil.example/p.png)"  # for 100-character fields
# Without commas and colons, for a zero-shot label (a comma ends a label, a colon starts its description).
MARKDOWN_LABEL = "[Claim refund](//evil.example/r) ![x](//evil.example/p.png) <img src=//evil.example/i.png> www.evil.example/w"

TEXTS: dict[str, str] = {
    "empty": "",
    "whitespace": " \t\n\u00a0\u3000 ",
    "100k characters": "lorem ipsum " * 8334,
    "NUL and controls": "a\x00b\x01c\x1bd\x7f tired",
    "zero-width only": "\u200b\u200c\u200d\ufeff\u2060",
    "lone surrogates": "bad \ud800 half \udfff pairs",
    "emoji": "I love this 😍🔥👍🏽👨‍👩‍👧 so much",
    "CJK": "我爱学习编程，这个电影非常好看。",
    "RTL": "هذا الفيلم رائع جدا שלום עולם",
    "HTML payload": "<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b>",
    "Markdown payload": "[click](javascript:alert(1)) ![x](http://127.0.0.1:9/t.png) # Head $x^2$ :red[red] **b**",
    "Markdown links and images": MARKDOWN_LINKS,
    "one long word": "a" * 3000,
    "combining marks": "Z̸̢̛̖̗a̷̡̛͇l̵̡̛g̶o̵" * 20,
}

CSVS: dict[str, bytes] = {
    "empty": b"",
    "header only": b"text,label\n",
    "binary": bytes(range(256)) * 40,
    "one huge cell": b"text,label\n\"" + b"x" * 4_000_000 + b"\",positive\n",
    "wrong encoding (UTF-16)": "text,label\nthe film was great,positive\n".encode("utf-16"),
    "latin-1": "text,label\ncaf\xe9 was great,positive\n".encode("latin-1"),
    "ragged rows": b"text,label\na,b,c,d\n\"unclosed,quote\n",
    "formula cells": b"text,label\n=cmd|' /C calc'!A0,positive\n@SUM(1+1),negative\n",
}


# What reading each CSV gives: None when its rows are read, else a part of the refusal's message.
CSV_REFUSALS: dict[str, str | None] = {
    "empty": "The file is empty",
    "header only": "a header but no rows",
    "binary": "not a text CSV file",
    "one huge cell": "field larger than field limit",
    "wrong encoding (UTF-16)": "not a text CSV file",
    "latin-1": None,
    "ragged rows": "unexpected end of data",
    "formula cells": None,
}


def _patched(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value):]


def bombs() -> dict[str, bytes]:
    """A small file per accepted format whose header declares an enormous image."""
    return dict(_bombs())


@functools.cache
def _bombs() -> dict[str, bytes]:
    small = coffee().resize((64, 48))
    jpeg = _patched(encoded(small, "JPEG"), b"\xff\xc0", 5, struct.pack(">HH", 60000, 60000))
    gif = encoded(small, "GIF")
    gif = gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:]
    bmp = encoded(small, "BMP")
    bmp = bmp[:18] + struct.pack("<ii", 40000, 40000) + bmp[26:]
    webp = encoded(small, "WEBP", lossless=True)
    packed = (16383 - 1) | ((16383 - 1) << 14)  # VP8L: width-1 and height-1 in 14 bits each
    webp = _patched(webp, b"VP8L", 9, struct.pack("<I", packed))
    tiff = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(tiff, format="TIFF", compression="group4")
    avif = _patched(encoded(small, "AVIF"), b"ispe", 8, struct.pack(">II", 50000, 50000))
    return {"bomb.jpg": jpeg, "bomb.gif": gif, "bomb.bmp": bmp, "bomb.webp": webp, "bomb.tif": tiff.getvalue(), "bomb.avif": avif}


# The message part each bomb's refusal carries (the bad uploads carry theirs in `bad_uploads()`).
BOMB_REFUSALS = {
    "bomb.jpg": "more pixels than Pillow", "bomb.gif": "more pixels than Pillow", "bomb.bmp": "more pixels than Pillow",
    "bomb.webp": "more pixels than Pillow", "bomb.tif": "more pixels than Pillow",
    "bomb.avif": "is not an image this app can read",
}


def bad_images() -> dict[str, bytes]:
    return {**{name: data for name, (data, _) in bad_uploads().items()}, **bombs()}


def bad_image_refusals() -> dict[str, str]:
    """Each bad image's name and a part of the message that refuses it."""
    return {**{name: word for name, (_, word) in bad_uploads().items()}, **BOMB_REFUSALS}


# Server URLs a visitor may type or link on a laptop (`engine=server&server=...`) that point where
# no generation server lives: cloud metadata services and the ranges around them, also inside IPv6.
SERVER_URLS: list[str] = [
    "http://169.254.169.254/latest/meta-data", "http://[fe80::1]:80/v1", "http://0.0.0.0:8080/v1",
    "http://[::ffff:169.254.169.254]/v1", "http://224.0.0.1/v1",
    "http://100.100.100.200/latest/meta-data", "http://100.64.0.1:8080/v1", "http://192.0.0.192/opc/v2",
    "http://[fd00:ec2::254]/latest/meta-data", "http://[64:ff9b::a9fe:a9fe]/v1", "http://[2002:a9fe:a9fe::1]/v1",
]


def _taught(example: str) -> list[list[str]]:
    """A teaching table: `example` beside three short ones, two labels."""
    return [[example, "complaint"], ["Broken again, I want a refund.", "complaint"], ["Thanks, great service!", "praise"],
            ["I love the new design.", "praise"]]


# Teaching tables a visitor may type, upload or link (`classifier=taught&examples=`): each example is
# held to the limits on any typed text (characters, then the encoder's tokens).
TAUGHT_EXAMPLES: dict[str, list[list[str]]] = {
    "102 tokens": _taught("the refund never came " * 20),
    "3,000 characters, 687 tokens": _taught("the refund never came " * 137),  # past the encoder's 512 positions
    "5,000 characters": _taught("lorem ipsum " * 417),
    "20,001 characters": _taught("a" * 20_001),
    "zero-width only": _taught("\u200b\u200c\u200d"),
}


def _examples_link(rows: object) -> str:
    return "classifier=taught&examples=" + quote(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))


TAUGHT_LINKS: list[str] = [
    _examples_link(_taught("the refund never came " * 40)),  # 879 characters, 202 tokens
    _examples_link(_taught("lorem ipsum " * 350)),  # one example within 4,000 characters, the link over them
    "classifier=taught&examples=" + "%5B" * 3000,  # lists nested 3,000 deep
]


def _query(**params: str) -> str:
    return urlencode(params, quote_via=quote)


def _deck(views: list[tuple[str, str]], title: str = "My talk") -> str:
    """A deck as its link carries it (`deck=`), packed as ui.talk.deck.deck_to_param packs it, but
    unchecked: a view's link may point anywhere."""
    raw = json.dumps({"title": title, "views": [{"title": t, "link": link} for t, link in views]})
    return base64.urlsafe_b64encode(zlib.compress(raw.encode("utf-8"), 9)).decode("ascii").rstrip("=")


# Markdown links in every text a link can carry, by page ("" is Home, where only the app's own
# parameters apply): labels, taught examples and their labels, the label to explain, the texts,
# the prompt and system prompt, a model id, a layer name, a deck's titles, and a deck whose view
# points off the app (its refusal quotes the link).
TAUGHT_BY_MARKDOWN = [["Give me my money back", MARKDOWN_LINKS], ["Lovely staff and great food", "happy"],
                      ["Thanks, it arrived early", "happy"], [MARKDOWN_LINKS, "happy"]]
MARKDOWN_IN_LINKS: dict[str, list[str]] = {
    "classify": [
        _query(classifier="zero-shot", labels=f"{MARKDOWN_LABEL}, sports", text=MARKDOWN_LABEL, explain=MARKDOWN_LABEL),
        _query(classifier="taught", examples=json.dumps(TAUGHT_BY_MARKDOWN), text="Give me my money back"),
    ],
    "generate": [_query(prompt=MARKDOWN_LINKS, system=MARKDOWN_LINKS, max_tokens="4", run="1")],
    "recognise": [_query(model_id=MARKDOWN_SHORT), _query(layer=MARKDOWN_SHORT)],
    "attention": [_query(text=MARKDOWN_LINKS, view="Step through one head")],
    "": [
        _query(deck=_deck([(MARKDOWN_SHORT, "/classify?" + _query(text=MARKDOWN_LINKS))], title=MARKDOWN_LINKS)),
        _query(deck=_deck([(MARKDOWN_SHORT, "https://evil.example/x")])),
    ],
}

# Link values at and past each page's bounds (a few per parameter kind), and the Markdown above.
LINKS: dict[str, list[str]] = {
    "classify": ["steps=64", "steps=65", "steps=0", "steps=-1", "steps=1e9", "steps=nan", "classifier=nope",
                 "labels=" + "x," * 30, "text=" + "a" * 1500, "text=" + "a" * 1501, "explain=%3Cb%3E", "examples=[[1,2]]",
                 "%3Cscript%3E=1", "model=hub:evil", *MARKDOWN_IN_LINKS["classify"], *TAUGHT_LINKS],
    "generate": ["max_tokens=256", "max_tokens=257", "max_tokens=99999", "temperature=inf", "top_p=0", "seed=-5",
                 "engine=server&server=http://169.254.169.254/&run=1", "prompt=%00%01&run=1", "attention=1&max_tokens=256&run=1&prompt=hi",
                 "system=" + "s" * 5000, *MARKDOWN_IN_LINKS["generate"]],
    "recognise": ["class=5000", "class=-2", "top=0", "top=21", "layer=../../etc", "model_id=timm:resnet50.a1_in1k",
                  "model_id=http://169.254.169.254/", "compare=1&cam=scorecam&layer=bn2", "opacity=2", "channels=999",
                  *MARKDOWN_IN_LINKS["recognise"]],
    "attention": ["text=" + "word " * 300, "layer=99", "head=-1", "model=hub:gpt2", "text=%E2%80%8B",
                  *MARKDOWN_IN_LINKS["attention"]],
    "learn": ["points=999999&run=1", "width=64&depth=6&run=1", "epochs=1001&run=1", "rate=nan", "data=mnist",
              "view=%3Cscript%3E"],
    "": MARKDOWN_IN_LINKS[""],
}

# X-Forwarded-For as a visitor on the room's Wi-Fi sends it (every peer private): name ->
# (direct peer, header, the key it counts under behind one trusted proxy hop). Without a
# configured proxy the direct peer counts, whatever is sent. "%d" differs from request to request.
SPOOFED_FORWARDS: dict[str, tuple[str, str, str]] = {
    "another visitor's address": ("192.168.1.23", "192.168.1.40", "192.168.1.40"),
    "a public address": ("192.168.1.23", "203.0.113.9", "203.0.113.9"),
    "a chain": ("10.0.0.7", "198.51.100.1, 203.0.113.9, 192.168.1.40", "192.168.1.40"),
    "loopback": ("192.168.1.23", "127.0.0.1", "127.0.0.1"),
    "garbage": ("192.168.1.23", "<script>, , ;;, 999.1.1.%d", "192.168.1.23"),
    "a new IPv6 address per request": ("fd00::23", "2001:db8:1:2::%d", "2001:db8:1:2::/64"),
}

# Deck files and deck links nested past Python's recursion limit (50,000 levels).
_NESTED = "[" * 50_000 + "]" * 50_000
NESTED_DECKS: dict[str, str] = {
    "a bare list": _NESTED,
    "in views": '{"title": "x", "views": ' + _NESTED + "}",
    "in the title": '{"title": ' + _NESTED + ', "views": []}',
}

# Views whose text is Chinese: each character is 9 characters once percent-encoded.
CJK_VIEW_TEXTS: dict[str, str] = {
    "1,500 Chinese characters": "注意力机制让模型在处理每个词时关注其他词。" * 75,
    "9,000 Chinese characters": "字" * 9000,
}

# The export flood: a 40-view deck of the most expensive views public mode allows (Score-CAM and
# ROAD on a new class each, IG at the step cap on a long text, 256 new tokens sampled with a new seed).
_LONG = " ".join(["the river teacher garden engine violin planet doctor window"] * 13)
EXPENSIVE_VIEWS: list[str] = [
    [f"/recognise?cam=scorecam&compare=1&road=1&class={100 + i}",
     f"/classify?classifier=sentiment&steps=64&compare=loo&text={_LONG.replace(' ', '+')}+{i}",
     f"/generate?prompt=Tell+me+a+long+story+{i}&max_tokens=256&temperature=1&seed={i}&run=1",
     f"/attention?text={_LONG.replace(' ', '+')}+{i}"][i % 4]
    for i in range(40)
]
