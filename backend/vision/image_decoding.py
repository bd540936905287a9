"""Turn what a user uploads into an RGB image, and the example photos that ship with packages.

Uploads are decoded from the bytes in memory (never written to disk). Every way a file can be
wrong (empty, damaged, not an image at all, a format the app cannot read, too many pixels, a
shape no network can use) ends in an `InputError` that says what to do.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.shared.language import Lazy, lazy, n_

ACCEPTED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF", "TIFF", "AVIF"}
FORMATS_TEXT = n_("PNG, JPEG, WebP, BMP, TIFF, AVIF or GIF")  # `t()` or `lazy()` where shown
MAX_UPLOAD_MB = 20  # the same number as server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 50_000_000  # the app's own cap (under Pillow's 89 MP): a 50-megapixel photo is fine
MIN_SIDE = 8
MAX_ASPECT = 20  # a 1x10000 strip has nothing a 224x224 network could see
WORKING_SIDE = 1024  # uploads are reduced to this longest side once, before any job sees them
_EXIF_ORIENTATION = 0x0112
_A_FILE, _AN_IMAGE = lazy("the file"), lazy("The image")  # what an error calls a file that has no name
# What a file that is not a raster image usually is, told by its first bytes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", n_("a PDF document")),
    (b"MZ", n_("a Windows program")),
    (b"\x7fELF", n_("a Linux program")),
    (b"PK\x03\x04", n_("a ZIP archive (or an Office document)")),
)


def _what_it_is(data: bytes) -> Lazy | None:
    """A human name for a file Pillow cannot open, from its first bytes (translated where shown)."""
    head = data[:512].lstrip().lower()
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return lazy(what)
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:2048].lower()):
        return lazy("an SVG drawing (vector graphics): export it as PNG first")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return lazy("a web page (HTML)")
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heim", b"heis"):
        return lazy("a HEIC photo, which this app cannot decode: export it as JPEG (on an iPhone: "
                    "Settings > Camera > Formats > Most Compatible)")
    return None


def max_pixels() -> int:
    return min(MAX_PIXELS, limits().upload_pixels)


def load_image(data: bytes, name: str | Lazy = _A_FILE) -> Image.Image:
    """Decode uploaded bytes into an RGB image (first frame of a GIF, EXIF rotation applied).
    `name` (the upload's file name) starts the error messages."""
    formats = lazy(FORMATS_TEXT)  # a message's parameter, translated with it
    if not data:
        raise InputError("{name} is empty (0 bytes). Upload a {formats} image.", name=name, formats=formats)
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise InputError("{name} is {size:.1f} MB; the upload limit is {most} MB.", name=name, size=len(data) / 2**20,
                         most=MAX_UPLOAD_MB)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise InputError("{name} is a {format} image; upload {formats}.", name=name, format=image.format,
                                 formats=formats)
            _check_pixels(image.width, image.height, name)
            image.seek(0)  # the first frame of an animation
            if image.format in ("JPEG", "MPO"):  # decode at 1/2, 1/4 or 1/8 scale when that still covers the working size
                image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            "{name} declares more pixels than Pillow will decode safely ({reason}); this app's own "
            "limit here is {most} megapixels.", name=name, reason=str(exc), most=max_pixels() // 1_000_000,
        ) from exc
    except UnidentifiedImageError as exc:
        what = _what_it_is(data)
        if what is None:
            raise InputError("{name} is not an image this app can read. Upload a {formats} image.", name=name,
                             formats=formats) from exc
        raise InputError("{name} is {what}, not an image. Upload a {formats} image.", name=name, what=what,
                         formats=formats) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt files
        raise InputError("{name} looks damaged and could not be decoded ({reason}).", name=name,
                         reason=str(exc)) from exc
    return working_size(to_rgb(image))


def working_size(image: Image.Image) -> Image.Image:
    """The image with its longest side at most WORKING_SIDE (the networks see 224 to 384 pixels;
    the page shows it at most about 1000 wide): every later step holds a few MB, not hundreds."""
    if max(image.size) <= WORKING_SIDE:
        return image
    reduced = image.copy()
    reduced.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return reduced


def _check_pixels(width: int, height: int, name: str | Lazy = _AN_IMAGE) -> None:
    most = max_pixels()
    if width * height > most:
        raise InputError(
            "{name} is {width}x{height} pixels ({megapixels:.0f} megapixels); the limit "
            "here is {most} megapixels. Resize it first.",
            name=name, width=width, height=height, megapixels=width * height / 1e6, most=most // 1_000_000,
        )
    if min(width, height) < MIN_SIDE:
        raise InputError("{name} is {width}x{height} pixels; use one at least {side}x{side}.", name=name, width=width,
                         height=height, side=MIN_SIDE)
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(
            "{name} is {width}x{height} pixels, more than {ratio} times as long as it is wide; "
            "the network looks at a square crop, so crop the part you want recognised.",
            name=name, width=width, height=height, ratio=MAX_ASPECT,
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB with EXIF orientation applied; transparency is composited onto white, 16-bit and
    floating-point greys are scaled to 8 bits, CMYK and palette images converted."""
    _check_pixels(image.width, image.height)
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image  # nothing to convert; no copy on the hot path
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit or float greys: stretch to 8 bits
        values = np.asarray(image, dtype=np.float32)  # float32, scaled in place: one copy of the pixels
        low, high = float(values.min()), float(values.max())
        if image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and 255 < high <= 65535):
            low, high = 0.0, 65535.0  # 16-bit data: keep its brightness
        elif image.mode == "I" and low >= 0 and high <= 255:
            low, high = 0.0, 255.0  # 8-bit data in a 32-bit container
        if not values.flags.writeable:
            values = values.copy()
        if high > low:
            values -= low
            values *= 255.0 / (high - low)
        else:
            values[:] = 0
        return Image.fromarray(values.round(out=values).astype(np.uint8)).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise InputError("Images in the {mode} colour mode cannot be converted to RGB here.", mode=image.mode) from exc


def _skimage(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        from skimage import data

        return Image.fromarray(getattr(data, name)()).convert("RGB")

    return load


def _grace_hopper() -> Image.Image:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return Image.open(handle).convert("RGB")


def _motorcycle() -> Image.Image:
    from skimage import data

    left, _right, _disparity = data.stereo_motorcycle()
    return Image.fromarray(left).convert("RGB")


# Real photos that ship inside scikit-image and matplotlib wheels (no download). The names are
# link values and messages: `t(name)` where shown.
EXAMPLES: dict[str, Callable[[], Image.Image]] = {
    n_("Cat (Chelsea)"): _skimage("chelsea"),
    n_("Coffee cup"): _skimage("coffee"),
    n_("Astronaut"): _skimage("astronaut"),
    n_("Rocket launch"): _skimage("rocket"),
    n_("Motorcycle"): _motorcycle,
    "Grace Hopper": _grace_hopper,
}


def example_image(name: str) -> Image.Image:
    try:
        return EXAMPLES[name]()
    except KeyError:
        raise InputError("Unknown example '{name}'. Choose one of: {names}.", name=name, names=", ".join(EXAMPLES)) from None
