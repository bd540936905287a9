"""The learning page's backend calls, built from its input values (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.learning.backprop import BackpropStep, backprop_step
from backend.learning.fine_tuning import submit_fine_tuning
from backend.learning.loss_surfaces import Descent, descend
from backend.learning.toy_training import ToySettings
from ui.core.request import Request
from ui.learn.inputs import TOY_KEYS


def toy_settings(values: Mapping[str, Any]) -> ToySettings:
    """The toy network's settings (checked when the run is submitted)."""
    return ToySettings(**{name: values[key] for name, key in TOY_KEYS.items()})


def backprop(values: Mapping[str, Any]) -> BackpropStep:
    """One step by hand (microseconds: computed on the page's own thread)."""
    return backprop_step(values["learn_x1"], values["learn_x2"], float(values["learn_target"]),
                         values["learn_step_rate"], values["learn_weights_seed"])


def descent(values: Mapping[str, Any]) -> Descent:
    """Three optimisers on the chosen surface (a few milliseconds: on the page's own thread)."""
    return descend(values["learn_surface"], values["learn_descent_rate"], values["learn_steps"])


def fine_tuning(values: Mapping[str, Any]) -> Request:
    """The heads on each kind of features at the chosen number of examples, and the learning curve."""
    size = int(values["learn_size"])
    return Request("fine-tuning", size, lambda **owner: submit_fine_tuning(size, **owner), max_entries=16)
