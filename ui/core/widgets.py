"""UI pieces every page uses, written once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from backend.runtime.errors import DashboardError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.registry import MODELS, ModelSpec, Task, models_for
from backend.shared.language import t
from ui.core.markdown import plain
from ui.core.state import Field, choice_field, set_by_click

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
            t("Something went wrong inside the app (error id {error_id}). Try again or pick another input; "
              "whoever runs this server finds the details in its log under that id.", error_id=error_id),
            icon=":material/bug_report:",
        )


def model_field(task: Task, key: str) -> Field:
    """The page-state field of a model picker: the model's key, in the URL as `model=`."""
    return choice_field(key, "model", [spec.key for spec in models_for(task)])


def model_picker(task: Task, key: str) -> ModelSpec:
    """A selectbox of the task's models, offline default first; returns the chosen spec."""
    key_chosen = st.selectbox(
        t("Model"), [spec.key for spec in models_for(task)], format_func=lambda k: MODELS[k].name, key=key,
        help=t("The first model ships with the app and works offline; Hub models need internet."),
    )
    spec = MODELS[key_chosen]
    st.caption(t(spec.description))
    return spec


def run_caption(run: RunInfo, extra: str = "") -> None:
    """'Which model ran, on which device, and how long it took' under an answer."""
    ran = t("**Model:** {model} · **Device:** {device} · **Time:** {ms} ms",
            model=plain(run.model), device=plain(run.device), ms=f"{run.seconds * 1000:.0f}")
    st.caption(f"{ran} · {extra}" if extra else ran)


def example_pills(examples: dict[str, dict[str, Any]], key_prefix: str, note: str | None = None) -> None:
    """The page's examples, as pills; picking one writes its values into the named widgets. Draw it
    before those widgets.

    A pill's choice is widget *state*, which the browser sends again with every later request,
    where a button's click is a one-off trigger. Under load Streamlit can drop a trigger (a
    visitor's click that arrives while the session's first run is still on its way, as happens in
    a room of visitors opening one link), so no callback is relied
    on: each run compares the chosen pill with the one last applied, and applies a new choice,
    also in the run of the Generate click that followed it. `set_by_click` then holds the values
    against a browser that sends the replaced ones back (it had not drawn the example's run)."""
    key, applied_key = f"{key_prefix}_example", f"_{key_prefix}_example_applied"
    applied = st.session_state.get(applied_key)
    if applied in examples and any(st.session_state.get(k) != v for k, v in examples[applied].items()):
        # the visitor changed the example's text or settings: no pill is lit, and a click on it applies it again
        st.session_state[key] = st.session_state[applied_key] = None
    chosen = st.pills(t("Examples"), list(examples), format_func=t, key=key, label_visibility="collapsed",
                     width="stretch")  # an example's name is its key: shown through the catalogue
    if note:  # which languages the examples are in, and why
        st.caption(t(note))
    if chosen is None:
        st.session_state[applied_key] = None
    elif chosen != st.session_state.get(applied_key):
        set_by_click(examples[chosen])
        st.session_state[applied_key] = chosen


def view_tabs(page: str, views: list[str]) -> tuple[list[Any], str]:
    """The page's views as stateful tabs (only the open view's code runs): their labels in the
    reader's language, the view itself (`{page}_view`, kept and in links) in English. Returns
    the tabs and the open view."""
    labels = {t(view): view for view in views}
    view = st.session_state[f"{page}_view"]
    st.session_state[f"{page}_tabs"] = t(view)
    tabs = st.tabs(list(labels), key=f"{page}_tabs", on_change=_tab_chosen, args=(page, labels, views[0]))
    return tabs, view


def _tab_chosen(page: str, labels: dict[str, str], first: str) -> None:
    """The clicked tab's English name becomes the view, whatever the language."""
    st.session_state[f"{page}_view"] = labels.get(st.session_state.get(f"{page}_tabs"), first)
