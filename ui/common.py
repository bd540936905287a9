"""UI pieces every page uses, written once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from backend.runtime.errors import DashboardError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.registry import MODELS, ModelSpec, Task, models_for
from ui.markdown import plain
from ui.state import Field, choice_field, set_by_click

log = logging.getLogger("dashboard")


@contextmanager
def shown_errors() -> Iterator[None]:
    """Show a user's mistake as a message, and a bug as a short notice with an error id (the
    details go to the server log under that id), never as a traceback."""
    try:
        yield
    except DashboardError as exc:
        st.error(plain(exc), icon=":material/error:")
    except Exception:  # Streamlit's rerun/stop signals are BaseExceptions and pass through
        error_id = uuid.uuid4().hex[:8]
        log.exception("Unexpected error on a page (error id %s)", error_id)
        st.error(
            f"Something went wrong inside the app (error id {error_id}). Try again or pick another input; "
            "whoever runs this server finds the details in its log under that id.",
            icon=":material/bug_report:",
        )


def model_field(task: Task, key: str) -> Field:
    """The page-state field of a model picker: the model's key, in the URL as `model=`."""
    return choice_field(key, "model", [spec.key for spec in models_for(task)])


def model_picker(task: Task, key: str) -> ModelSpec:
    """A selectbox of the task's models, offline default first; returns the chosen spec."""
    key_chosen = st.selectbox(
        "Model", [spec.key for spec in models_for(task)], format_func=lambda k: MODELS[k].name, key=key,
        help="The first model ships with the app and works offline; Hub models need internet.",
    )
    spec = MODELS[key_chosen]
    st.caption(spec.description)
    return spec


def run_caption(run: RunInfo, extra: str = "") -> None:
    """'Which model ran, on which device, and how long it took' under an answer."""
    parts = [f"**Model:** {plain(run.model)}", f"**Device:** {plain(run.device)}", f"**Time:** {run.seconds * 1000:.0f} ms"]
    if extra:
        parts.append(extra)
    st.caption(" · ".join(parts))


def example_buttons(examples: dict[str, dict[str, str]], key_prefix: str) -> None:
    """One button per example; a click writes the example's values into the named widgets (and
    holds them against a stale value from the browser, see `set_by_click`)."""
    columns = st.columns(len(examples))
    for i, (column, (title, values)) in enumerate(zip(columns, examples.items(), strict=True)):
        column.button(title, key=f"{key_prefix}_example_{i}", on_click=set_by_click, args=(values,), width="stretch")
