"""The cap on uploads held in memory, through the image page's own input: a session past it gets a
clear message and its image is neither decoded nor kept; a place comes free when a session lets go."""

from dataclasses import replace

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from backend.runtime import held_uploads, public_mode
from backend.vision.image_decoding import example_image
from tests.image_inputs import encoded
from ui.recognise import image_input

CAT = encoded(example_image("Cat (Chelsea)"), "PNG")


class _Upload:
    """What st.file_uploader returns once a file has arrived."""

    name = "cat.png"

    def getvalue(self) -> bytes:
        return CAT


def _image_input() -> None:
    import streamlit as st

    from backend.runtime.errors import DashboardError
    from ui.recognise.image_input import chosen_image

    source = st.radio("Image", ["Upload", "Example photo"], key="source")
    try:
        image, _ = chosen_image(source)
        st.write(f"image {image.size[0]}x{image.size[1]}")
    except DashboardError as exc:
        st.error(str(exc))


@pytest.fixture
def one_place(monkeypatch):
    """A server that holds one upload, with every tab still open; a file already uploaded."""
    monkeypatch.setattr(public_mode, "LAPTOP", replace(public_mode.LAPTOP, held_uploads=1))
    monkeypatch.setattr(held_uploads.UPLOADS, "_held", {})
    monkeypatch.setattr(streamlit, "file_uploader", lambda *args, **kwargs: _Upload())
    # every AppTest runs as one session id: each test session says which tab it is
    monkeypatch.setattr(image_input, "session_id", lambda: streamlit.session_state["tab"], raising=False)


def _session(tab: str) -> AppTest:
    at = AppTest.from_function(_image_input, default_timeout=60)
    at.session_state["tab"] = tab
    return at.run()


def test_a_session_past_the_cap_on_held_uploads_is_told_and_nothing_is_kept(one_place):
    first = _session("first")
    assert not first.exception and not first.error and "image 451x300" in first.markdown[0].value
    second = _session("second")
    assert not second.exception and not [m for m in second.markdown if m.value.startswith("image")], second.markdown[0].value
    assert "holding uploaded images for 1 visitors" in second.error[0].value
    assert "_recognise_decoded" not in second.session_state, "the refused upload was not decoded or kept"
    first.radio(key="source").set_value("Example photo").run()  # the first visitor lets go of theirs
    assert len(held_uploads.UPLOADS) == 0
    second.run()
    assert not second.error and "image 451x300" in second.markdown[0].value
