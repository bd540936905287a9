"""What strangers send: texts, image files, CSVs and link values that each page must answer or refuse
clearly (never a traceback), fed both to the backend and to the running app in public mode."""

from __future__ import annotations

import functools
import io
import struct

from PIL import Image

from tests.image_inputs import bad_uploads, coffee, encoded

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


# Link values at and past each page's bounds (a few per parameter kind).
LINKS: dict[str, list[str]] = {
    "classify": ["steps=64", "steps=65", "steps=0", "steps=-1", "steps=1e9", "steps=nan", "classifier=nope",
                 "labels=" + "x," * 30, "text=" + "a" * 1500, "text=" + "a" * 1501, "explain=%3Cb%3E", "examples=[[1,2]]",
                 "%3Cscript%3E=1", "model=hub:evil"],
    "generate": ["max_tokens=256", "max_tokens=257", "max_tokens=99999", "temperature=inf", "top_p=0", "seed=-5",
                 "engine=server&server=http://169.254.169.254/&run=1", "prompt=%00%01&run=1", "attention=1&max_tokens=256&run=1&prompt=hi",
                 "system=" + "s" * 5000],
    "recognise": ["class=5000", "class=-2", "top=0", "top=21", "layer=../../etc", "model_id=timm:resnet50.a1_in1k",
                  "model_id=http://169.254.169.254/", "compare=1&cam=scorecam&layer=bn2", "opacity=2", "channels=999"],
    "attention": ["text=" + "word " * 300, "layer=99", "head=-1", "model=hub:gpt2", "text=%E2%80%8B"],
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
