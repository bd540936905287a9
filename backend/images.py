"""Turn what a user uploads into an RGB image, and the example photos that ship with packages."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.errors import InputError

ACCEPTED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF"}
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "bmp", "gif")
MAX_PIXELS = 50_000_000  # a 50-megapixel photo is fine; a decompression bomb is not
MIN_SIDE = 8
_EXIF_ORIENTATION = 0x0112


def load_image(data: bytes, name: str = "the file") -> Image.Image:
    """Decode uploaded bytes into an RGB image (first frame of a GIF, EXIF rotation applied)."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes). Upload a PNG, JPEG, WebP, BMP or GIF image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise InputError(
                    f"{name} is a {image.format} image; upload PNG, JPEG, WebP, BMP or GIF."
                )
            if image.width * image.height > MAX_PIXELS:
                raise InputError(
                    f"{name} is {image.width}x{image.height} pixels; the limit is "
                    f"{MAX_PIXELS // 1_000_000} megapixels. Resize it first."
                )
            image.seek(0)  # the first frame of an animation
            image.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            f"{name} is not an image this app can read. Upload a PNG, JPEG, WebP, BMP or GIF."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt files
        raise InputError(f"{name} looks damaged and could not be decoded ({exc}).") from exc
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB with EXIF orientation applied; transparency is composited onto white."""
    if min(image.size) < MIN_SIDE:
        raise InputError(f"The image is {image.width}x{image.height} pixels; use one at least {MIN_SIDE}x{MIN_SIDE}.")
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image  # nothing to convert; no copy on the hot path
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "I;16" or image.mode == "I":  # 16-bit greyscale: scale to 8 bits
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


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


# Real photos that ship inside scikit-image and matplotlib wheels (no download).
EXAMPLES: dict[str, Callable[[], Image.Image]] = {
    "Cat (Chelsea)": _skimage("chelsea"),
    "Coffee cup": _skimage("coffee"),
    "Astronaut": _skimage("astronaut"),
    "Rocket launch": _skimage("rocket"),
    "Motorcycle": _motorcycle,
    "Grace Hopper": _grace_hopper,
}


def example_image(name: str) -> Image.Image:
    try:
        return EXAMPLES[name]()
    except KeyError:
        raise InputError(f"Unknown example '{name}'. Choose one of: {', '.join(EXAMPLES)}.") from None
