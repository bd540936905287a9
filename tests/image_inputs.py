"""Files people upload to the image page, good and bad, built in memory for the tests."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

from backend.vision.image_decoding import MAX_UPLOAD_MB, example_image


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_of_zeros(width: int, height: int) -> bytes:
    """A real, valid greyscale PNG of `width` x `height` black pixels: a few hundred kilobytes
    that decode to width*height bytes (a decompression bomb when large). Built row by row."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def coffee() -> Image.Image:
    return example_image("Coffee cup")


def good_uploads() -> dict[str, bytes]:
    """Uploads that must be decoded to the right RGB picture (the coffee photo is an espresso)."""
    photo = coffee()
    rgba = photo.convert("RGBA")
    rgba.putalpha(255)
    rgb16 = (np.asarray(photo, dtype=np.uint16) * 257)
    import cv2  # 48-bit PNG: OpenCV writes 16 bits per channel (BGR order)

    ok, png48 = cv2.imencode(".png", rgb16[..., ::-1].copy())
    assert ok
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = photo.transpose(Image.Transpose.ROTATE_90)  # stored turned; EXIF says turn it back
    return {
        "photo.png": encoded(photo, "PNG"),
        "photo.jpg": encoded(photo, "JPEG", quality=92),
        "photo-exif-rotated.jpg": encoded(rotated, "JPEG", exif=exif.tobytes()),
        "photo.webp": encoded(photo, "WEBP"),
        "photo.bmp": encoded(photo, "BMP"),
        "photo.tiff": encoded(photo, "TIFF"),
        "photo.avif": encoded(photo, "AVIF"),
        "photo-first-frame.gif": encoded(photo, "GIF", save_all=True, append_images=[Image.new("RGB", photo.size, "red")], duration=100),
        "photo-palette.png": encoded(photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), "PNG"),
        "photo-cmyk.jpg": encoded(photo.convert("CMYK"), "JPEG", quality=95),
        "photo-rgba.png": encoded(rgba, "PNG"),
        "photo-48bit.png": png48.tobytes(),
    }


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """Uploads that must be refused, with a word the message must contain."""
    return dict(_bad_uploads())


@functools.cache  # built once per test process: the three large PNGs take seconds to compress
def _bad_uploads() -> dict[str, tuple[bytes, str]]:
    png = encoded(coffee(), "PNG")
    jpeg = encoded(coffee(), "JPEG")
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 200
    return {
        "empty.png": (b"", "empty"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "damaged"),
        "truncated.png": (png[: len(png) // 2], "damaged"),
        "report.png": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 4, "PDF"),
        "page.png": (b"<!DOCTYPE html>\n<html><head><title>x</title></head><body>hi</body></html>", "web page"),
        "setup.png": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "Windows program"),
        "drawing.svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        "iphone.heic": (heic, "HEIC"),
        "dot.png": (encoded(Image.new("RGB", (1, 1)), "PNG"), "at least"),
        "strip.png": (encoded(Image.new("RGB", (1, 10_000)), "PNG"), "at least"),
        "banner.png": (encoded(Image.new("RGB", (10_000, 100)), "PNG"), "times as long"),
        "huge-20000.png": (png_of_zeros(20_000, 20_000), "more pixels than Pillow"),
        "bomb-over-pillow.png": (png_of_zeros(10_000, 10_000), "more pixels than Pillow"),
        "bomb-over-app-cap.png": (png_of_zeros(8_000, 8_000), "megapixels"),
        "too-big.png": (png + b"\x00" * (MAX_UPLOAD_MB * 2**20), "upload limit"),
    }
