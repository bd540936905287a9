"""The image page's image: an example photo, an upload or the camera, decoded once per file and
held in the session, within the server's cap on uploads held (`backend.runtime.held_uploads`)."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable

import streamlit as st
from PIL import Image

from backend.runtime.held_uploads import UPLOADS
from backend.runtime.public_mode import limits as caps
from backend.shared.language import t
from backend.vision.image_decoding import (
    EXAMPLES,
    FORMATS_TEXT,
    MAX_UPLOAD_MB,
    load_image,
    max_pixels,
)
from ui.core.jobs import client_address, session_id
from ui.recognise import request

DECODED = "_recognise_decoded"  # session_state: (SHA-256 of the upload, its decoded image)


def chosen_image(source: str) -> tuple[Image.Image | None, Hashable | None]:
    """Draw the input for `source` and return (the image, its id), or (None, None) before a file
    arrives. An uploaded file that is not an image raises `InputError` saying what it is."""
    limits = t("Up to {mb} MB and {megapixels} megapixels. The image is read in memory and never written to disk; "
               "it is not part of the page's link. The server holds uploads for {visitors} visitors at once here, "
               "{per_address} per address.", mb=MAX_UPLOAD_MB, megapixels=max_pixels() // 1_000_000,
               visitors=caps().held_uploads, per_address=caps().held_uploads_per_address)
    if source == "Example photo":
        _let_go()
        st.selectbox(t("Example"), list(EXAMPLES), key="recognise_example", format_func=t,
                     help=t("Real photos shipped inside scikit-image and matplotlib."))
        return request.example({"recognise_example": st.session_state["recognise_example"]})
    if source == "Upload":
        # Any file is taken: the app reads its bytes and says what it is (a HEIC, an SVG, a PDF…),
        # clearer than the browser's "files of this type are not allowed".
        upload = st.file_uploader(t("Upload an image"), key="recognise_upload")
        st.caption(t("{formats}. {limits}", formats=t(FORMATS_TEXT), limits=limits))
    else:
        upload = st.camera_input(t("Take a photo"), key="recognise_camera")
        st.caption(t("If the browser blocks the camera, allow it from the camera icon in the address bar, "
                     "or upload a photo instead. {limits}", limits=limits))
    if upload is None:
        _let_go()
        return None, None
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    decoded = st.session_state.get(DECODED)
    if decoded is None or decoded[0] != digest:  # decoded once per upload, not on every rerun
        _let_go()
        UPLOADS.hold(session_id(), client_address())  # BusyError past the cap: not decoded, not kept
        try:
            decoded = st.session_state[DECODED] = (digest, load_image(data, upload.name))
        except Exception:
            UPLOADS.release(session_id())
            raise
    return decoded[1], ("upload", digest)


def _let_go() -> None:
    """This session holds no uploaded image any more: its place under the cap is free."""
    if st.session_state.pop(DECODED, None) is not None:
        UPLOADS.release(session_id())
