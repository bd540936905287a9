import io
import math

import numpy as np
import pytest
from PIL import Image

from backend.runtime.errors import InputError
from backend.vision.image_decoding import EXAMPLES, example_image, load_image
from backend.vision.recognition import recognise
from tests.image_inputs import bad_uploads, good_uploads

CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_the_scikit_image_cat_is_a_cat():
    result = recognise(example_image("Cat (Chelsea)"))
    labels = [c.label for c in result.top]
    assert len(labels) == 5
    assert CAT_CLASSES & set(labels[:3])
    assert result.label in CAT_CLASSES
    probabilities = [c.probability for c in result.top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6


def test_the_coffee_photo_holds_an_espresso():
    result = recognise(example_image("Coffee cup"))
    assert "espresso" in [c.label for c in result.top]
    assert result.top[0].label == "espresso" and result.top[0].probability > 0.5
    assert result.image_size == (600, 400)
    assert result.run.model.startswith("EfficientNet-Lite0")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_uploads_in_every_accepted_format_give_the_same_answer(fmt):
    data = _encoded(example_image("Coffee cup"), fmt)
    assert recognise(data).top[0].label == "espresso"


def test_gif_upload_uses_the_first_frame():
    cat, coffee = example_image("Cat (Chelsea)"), example_image("Coffee cup").resize((451, 300))
    data = _encoded(cat, "GIF", save_all=True, append_images=[coffee], duration=100)
    image = load_image(data, "anim.gif")
    assert image.mode == "RGB" and image.size == (451, 300)
    assert recognise(image).label in CAT_CLASSES


def test_transparent_and_greyscale_images_are_converted():
    rgba = example_image("Coffee cup").convert("RGBA")
    rgba.putalpha(200)
    assert load_image(_encoded(rgba, "PNG")).mode == "RGB"
    grey16 = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    converted = load_image(_encoded(grey16, "PNG"))
    assert converted.mode == "RGB" and converted.size == (64, 64)


GOOD = good_uploads()
BAD = bad_uploads()


@pytest.mark.parametrize("name", list(GOOD))
def test_every_accepted_upload_is_decoded_and_recognised(name):
    image = load_image(GOOD[name], name)
    assert image.mode == "RGB" and image.size == (600, 400)
    assert recognise(image).top[0].label == "espresso"


@pytest.mark.parametrize("name", list(BAD))
def test_bad_uploads_get_clear_messages(name):
    data, message = BAD[name]
    with pytest.raises(InputError, match=message) as caught:
        load_image(data, name)
    assert name in str(caught.value)


def test_sixteen_bit_and_float_greys_keep_their_brightness():
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    converted = np.asarray(load_image(_encoded(Image.fromarray(ramp), "PNG")))
    assert converted.shape == (64, 64, 3)
    assert converted[0, 0, 0] == 0 and converted[-1, -1, 0] == 255 and converted[32, 0, 0] == 128
    dim = Image.fromarray((np.full((32, 32), 1000)).astype(np.uint16))  # dim on a 16-bit scale
    assert np.asarray(load_image(_encoded(dim, "TIFF")))[0, 0, 0] == 4
    eight_in_32 = Image.fromarray(np.full((32, 32), 200, dtype=np.int32), mode="I")  # 8-bit values, 32-bit mode
    assert np.asarray(load_image(_encoded(eight_in_32, "TIFF")))[0, 0, 0] == 200


def test_uploads_are_decoded_without_touching_the_disk(monkeypatch):
    import builtins
    import os

    real_open, real_os_open = builtins.open, os.open

    def no_writing(file, mode="r", *args, **kwargs):
        if any(flag in str(mode) for flag in "wax+"):
            raise AssertionError(f"wrote {file}")
        return real_open(file, mode, *args, **kwargs)

    def no_os_writing(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise AssertionError(f"wrote {path}")
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_writing)
    monkeypatch.setattr(os, "open", no_os_writing)
    for name, data in GOOD.items():
        load_image(data, name)
    for name, (data, _message) in BAD.items():
        with pytest.raises(InputError):
            load_image(data, name)


def test_grace_hopper_wears_a_uniform_or_a_gown():
    labels = {c.label for c in recognise(example_image("Grace Hopper")).top}
    assert labels & {"military uniform", "academic gown", "mortarboard"}


def test_every_example_photo_loads_and_is_recognised():
    for name in EXAMPLES:
        result = recognise(example_image(name), top_k=3)
        assert len(result.top) == 3
        assert math.isfinite(result.top[0].probability)


def test_exif_rotation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = _encoded(example_image("Coffee cup"), "JPEG", exif=exif.tobytes())
    image = load_image(data, "phone-photo.jpg")
    assert image.size == (400, 600)
    assert recognise(image).top[0].label == "espresso"
