"""Every figure and result downloadable, written once for every page.

A chart's PNG comes from Plotly's own toolbar (the camera icon, drawn in the browser at twice the
screen resolution). The interactive HTML and the data files are built only when their button is
clicked (a callable `data`), so a page with many figures does not prepare megabytes each run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.shared.language import t
from ui.core.presentation import for_screen, presenting


def chart(fig: go.Figure, key: str, name: str, download: bool = True, **plotly_options: Any) -> Any:
    """The figure, with a PNG in its toolbar and an HTML download under it; not `download`: a
    frame of a live view, drawn as a still picture (no toolbar, no hover, no zoom: a frame lasts a
    fraction of a second, and plotly.js mounts a still one in about two thirds of the time).
    Other options (such as `on_select`) go to `st.plotly_chart`, whose return value is returned."""
    config = ({"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}, "displaylogo": False}
              if download else {"staticPlot": True})
    shown = st.plotly_chart(for_screen(fig), key=key, theme=None, config=config, **plotly_options)
    if presenting() or not download:
        return shown  # on a projector, the chart alone
    # The full plotly.js goes into the file, so it opens offline (about 5 MB).
    st.download_button(
        t("Interactive HTML"), data=lambda: fig.to_html(include_plotlyjs=True, full_html=True),
        file_name=f"{name}.html", mime="text/html", key=f"{key}_html", on_click="ignore",
        icon=":material/download:", help=t("The chart as a web page you can zoom and hover, offline. "
                                           "For a PNG, use the camera icon in the chart's toolbar."),
    )
    return shown


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (`=cmd|...`, `@SUM(...)`, from an uploaded
    CSV or a typed text) start with an apostrophe in the CSV download; numbers stay numbers."""
    def cell(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value

    return frame.map(cell)


def table_downloads(
    name: str, key: str, frame: Callable[[], pd.DataFrame], extra: Callable[[], Any] | None = None
) -> None:
    """CSV and JSON buttons for a table (and, optionally, a JSON of something richer)."""
    left, right = st.columns(2)
    left.download_button(
        "CSV", data=lambda: spreadsheet_safe(frame()).to_csv(index=False).encode("utf-8"), file_name=f"{name}.csv",
        mime="text/csv", key=f"{key}_csv", on_click="ignore", icon=":material/download:",
    )
    right.download_button(
        "JSON",
        data=lambda: json.dumps(extra() if extra else frame().to_dict(orient="records"), indent=2, ensure_ascii=False, default=float),
        file_name=f"{name}.json", mime="application/json", key=f"{key}_json", on_click="ignore",
        icon=":material/download:",
    )
