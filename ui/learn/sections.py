"""The learning page's views: a network trained live, one backpropagation step by hand, optimisers
on a loss surface, and a head fine-tuned on pretrained features."""

from __future__ import annotations

import threading

from typing import Any

import numpy as np
import streamlit as st

from backend.learning.fine_tuning import FEATURES
from backend.learning.learning_figures import (
    boundary_figure,
    data_figure,
    descent_losses_figure,
    head_curves_figure,
    learning_curve_figure,
    loss_figure,
    network_figure,
    surface_figure,
)
from backend.learning.loss_surfaces import METHODS, SURFACES
from backend.learning.toy_data import DATASETS
from backend.learning.toy_stack import Snapshot
from backend.learning.toy_training import ACTIVATIONS, OPTIMIZERS, ToySettings, data_of, submit_training
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import Job
from backend.shared.language import t
from ui.core.downloads import chart
from ui.core.jobs import mine, remembered, session_id, wait_in_line
from ui.core.widgets import example_pills, shown_errors
from ui.learn import request
from ui.learn.inputs import PRESET_VALUES, PRESETS_NOTE
from ui.learn.kept import kept_or_submitted

REDRAW_SECONDS = 0.15  # a running network is redrawn about six times a second, for a visitor alone
# All visitors' redraws of running networks together, at most about this many a second: a redraw
# costs the server ~15 ms of Python (two figures), which the training loop waits for, so a room of
# 24 each redrawing six times a second would leave the training nothing (bench/room_learn.py).
SERVER_REDRAWS_PER_SECOND = 10
_following = [0]  # sessions following a run now
_following_lock = threading.Lock()


def _redraw_seconds() -> float:
    with _following_lock:
        return max(REDRAW_SECONDS, _following[0] / SERVER_REDRAWS_PER_SECOND)


def toy_controls() -> None:
    """The data, the network and the training settings."""
    caps = limits()
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox(t("Data"), list(DATASETS), key="learn_dataset", format_func=lambda d: t(DATASETS[d]))
    c2.number_input(t("Points"), 20, caps.toy_points, step=50, key="learn_points",
                    help=t("At most {most} here.", most=caps.toy_points))
    c3.number_input(t("Noise"), 0.0, 0.5, step=0.05, key="learn_noise",
                    help=t("Each point moved at random by this much (the data lie within about 1 of the centre)."))
    c4.number_input(t("Test share"), 0.1, 0.9, step=0.1, key="learn_test_share",
                    help=t("The points kept apart: the network never trains on them (drawn as rings)."))
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(t("Hidden layers"), 0, 6, key="learn_depth", help=t("0: a linear model (logistic regression)."))
    c2.number_input(t("Units per layer"), 1, 64, key="learn_width",
                    help=t("At most {most} hidden units in all here.", most=caps.toy_neurons))
    c3.selectbox(t("Activation"), list(ACTIVATIONS), key="learn_activation")
    c4.number_input(t("Dropout"), 0.0, 0.9, step=0.1, key="learn_dropout",
                    help=t("During training each hidden unit is left out with this chance."))
    c1, c2, c3, c4, c5, c6 = st.columns(6)
    c1.selectbox(t("Optimizer"), list(OPTIMIZERS), key="learn_optimizer", format_func=lambda o: t(OPTIMIZERS[o]))
    c2.number_input(t("Learning rate"), 1e-5, 10.0, step=0.01, format="%.4f", key="learn_rate")
    c3.number_input(t("Batch size"), 1, caps.toy_points, key="learn_batch")
    c4.number_input(t("L2"), 0.0, 1.0, step=0.001, format="%.4f", key="learn_l2",
                    help=t("Adds L2 × Σw² (the weights, not the biases) to the training loss: large weights cost."))
    c5.number_input(t("Epochs"), 1, caps.toy_epochs, step=50, key="learn_epochs",
                    help=t("At most {most} here.", most=caps.toy_epochs))
    c6.number_input(t("Seed"), 0, 2**32 - 1, key="learn_seed",
                    help=t("Fixes the points, the first weights, the batches and dropout: same seed and settings, same curves."))


def _draw(snapshot: Snapshot, settings: ToySettings, places: dict[str, Any], live: bool = False) -> None:
    """The snapshot into the page's places, each element straight into its own `st.empty` so a
    redraw sends the browser five elements and no new containers (each redraw's charts under new
    keys: a run redraws them); a `live` frame of a running network without the charts' downloads."""
    places["drawn"] = drawn = places.get("drawn", 0) + 1
    places["epoch"].metric(t("Epoch"), f"{snapshot.epoch} / {snapshot.epochs}")
    places["train"].metric(t("Train accuracy"), f"{snapshot.train_accuracy:.1%}")
    places["test"].metric(t("Test accuracy"), f"{snapshot.test_accuracy:.1%}")
    for place, figure, name in (("boundary", boundary_figure(snapshot, data_of(settings)), "decision-boundary"),
                                ("loss", loss_figure(snapshot), "loss")):
        with places[place] if live else places[place].container():  # a download button goes under the chart
            chart(figure, f"learn_{place}_{drawn}", name, download=not live)
    if snapshot.diverged:
        places["note"].warning(t("The loss became infinite at epoch {epoch}: the learning rate is too high, each step "
                                 "overshoots further. Lower it and train again.", epoch=snapshot.epoch),
                               icon=":material/trending_up:")


def _follow(job: Job, settings: ToySettings, places: dict[str, Any]) -> Snapshot | None:
    """Redraw the run as its snapshots arrive, until it ends (or Streamlit reruns): six times a
    second alone, less often the more visitors follow a run (`SERVER_REDRAWS_PER_SECOND`)."""
    wait_in_line(job)
    drawn = -1
    with _following_lock:
        _following[0] += 1
    try:
        while True:
            finished = job.wait(_redraw_seconds())
            if finished:
                if job.pieces:
                    _draw(job.pieces[-1], settings, places)
                return job.pieces[-1] if job.pieces else None
            if job.pieces and len(job.pieces) != drawn:
                drawn = len(job.pieces)
                _draw(job.pieces[-1], settings, places, live=True)
    finally:
        with _following_lock:
            _following[0] -= 1


def toy_view(opened_to_run: bool) -> None:
    example_pills(PRESET_VALUES, key_prefix="learn", note=PRESETS_NOTE)
    toy_controls()
    settings = request.toy_settings(st.session_state)
    kept = st.session_state.get("learn_kept")  # (settings, TrainState) of the last run on this page
    resume = kept[1] if kept and kept[0] == settings and kept[1].epoch < settings.epochs else None
    b1, b2, b3, b4, _ = st.columns([1, 1, 1, 1, 4])
    train = b1.button(t("Train"), key="learn_train", type="primary", icon=":material/play_arrow:")
    pause = b2.button(t("Pause"), key="learn_pause", icon=":material/pause:")
    step = b3.button(t("Step"), key="learn_step", icon=":material/skip_next:", help=t("One epoch more."))
    reset = b4.button(t("Reset"), key="learn_reset", icon=":material/restart_alt:")
    job: Job | None = st.session_state.get("learn_job")
    ran = st.session_state.get("learn_job_settings", settings)  # the run's own settings, not the controls' now
    if pause and job is not None and job.active and job.pieces:
        # Stop following: the run ends unless others follow it too (the same settings pressed at
        # once share one run); this page keeps its newest snapshot, and Train goes on from there.
        job.leave(session_id())
        paused = job.pieces[-1]
        st.session_state["learn_paused"], st.session_state["learn_kept"] = paused, (ran, paused.state)
        st.session_state["learn_job"] = job = None
        resume = paused.state if ran == settings and paused.epoch < settings.epochs else None
    if reset:
        for key in ("learn_job", "learn_job_settings", "learn_kept", "learn_paused"):
            st.session_state.pop(key, None)
        job, resume = None, None
    with shown_errors():
        if train or opened_to_run and job is None and "learn_paused" not in st.session_state:
            job = kept_or_submitted(settings, resume, **mine("learn"))
        elif step:
            job = submit_training(settings, resume, until=(resume.epoch if resume else 0) + 1, **mine("learn"))
        if job is not None and job is not st.session_state.get("learn_job"):
            st.session_state["learn_job"], st.session_state["learn_job_settings"] = job, settings
            st.session_state.pop("learn_paused", None)
            ran = settings
    places = {"note": st.empty()}
    m1, m2, m3 = st.columns(3)
    places["epoch"], places["train"], places["test"] = m1.empty(), m2.empty(), m3.empty()
    c1, c2 = st.columns([3, 2])
    places["boundary"], places["loss"] = c1.empty(), c2.empty()
    if job is None:
        paused = st.session_state.get("learn_paused")
        if paused is None:
            with places["boundary"]:  # the data to separate; and plotly.js is loaded before the first frame
                chart(data_figure(data_of(settings)), "learn_data", "data", download=False)
            st.caption(t("Press Train: the boundary and the curves move as the network learns."))
        else:
            _draw(paused, ran, places)
            st.caption(t("Paused at epoch {epoch}: Train goes on from here, Step adds one epoch.", epoch=paused.epoch))
        return
    with shown_errors():
        if job.active:
            last = _follow(job, ran, places)
        else:
            last = job.pieces[-1] if job.pieces else None
            if last is not None:
                _draw(last, ran, places)
        if job.state == "failed":
            job.outcome()  # raises the run's error
        if last is not None:
            st.session_state["learn_kept"] = (ran, last.state)
            if ran != settings:
                st.caption(t("The settings above changed since this run: press Train for a new one."))
            st.caption(t("{epochs} epochs in {seconds} s on the server's CPU. Test points are rings; the line is where "
                         "the network's answer turns from orange to blue.", epochs=last.epoch,
                         seconds=f"{last.seconds:.2f}"))


def backprop_view() -> None:
    st.write(t("A network of 2 inputs, 3 hidden sigmoid units and 1 sigmoid output, on one example. Forward: "
               "each unit's value from the one before. Backward: the chain rule, one factor at a time, from the "
               "loss to every weight. Then each weight moves against its gradient."))
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input("x₁", -10.0, 10.0, step=0.5, key="learn_x1")
    c2.number_input("x₂", -10.0, 10.0, step=0.5, key="learn_x2")
    c3.selectbox(t("Target y"), [0, 1], key="learn_target")
    c4.number_input(t("Learning rate η"), 0.001, 10.0, step=0.1, key="learn_step_rate")
    c5.number_input(t("Weights from seed"), 0, 9999, key="learn_weights_seed")
    with shown_errors():
        step = request.backprop(st.session_state)
        chart(network_figure(step), "learn_network", "backprop-network")
        w1, w2 = step.weights.w1, step.weights.w2
        st.markdown(t("**Forward.** z₁ = W₁x + b₁ = {z1}; a₁ = σ(z₁) = {a1}; z₂ = w₂·a₁ + b₂ = {z2:.4f}; "
                      "ŷ = σ(z₂) = {y_hat:.4f}; L = −[y log ŷ + (1−y) log(1−ŷ)] = **{loss:.4f}**.",
                      z1=_vector(step.z1), a1=_vector(step.a1), z2=step.z2, y_hat=step.y_hat, loss=step.loss))
        rows = [
            ("∂L/∂z₂ = ŷ − y", f"{step.y_hat:.4f} − {step.y:.0f} = {step.d_z2:.4f}"),
            ("∂L/∂w₂ = ∂L/∂z₂ · a₁", f"{step.d_z2:.4f} × {_vector(step.a1)} = {_vector(step.d_w2)}"),
            ("∂L/∂b₂ = ∂L/∂z₂", f"{step.d_b2:.4f}"),
            ("∂L/∂a₁ = ∂L/∂z₂ · w₂", f"{step.d_z2:.4f} × {_vector(w2)} = {_vector(step.d_a1)}"),
            ("∂L/∂z₁ = ∂L/∂a₁ ⊙ a₁(1 − a₁)", f"{_vector(step.d_a1)} ⊙ {_vector(step.a1 * (1 - step.a1))} = {_vector(step.d_z1)}"),
            ("∂L/∂W₁ = ∂L/∂z₁ · xᵀ", _matrix(step.d_w1)),
            ("∂L/∂b₁ = ∂L/∂z₁", _vector(step.d_b1)),
        ]
        st.markdown(t("**Backward, by the chain rule.**"))
        st.table({t("gradient"): [r[0] for r in rows], t("with this example's numbers"): [r[1] for r in rows],
                  t("PyTorch autograd"): [_vector(np.ravel(a)) for a in (
                      [step.y_hat - step.y], step.autograd.w2, [step.autograd.b2], [np.nan], [np.nan],
                      step.autograd.w1, step.autograd.b1)]})
        c1, c2, c3 = st.columns(3)
        c1.metric(t("Largest difference from autograd"), f"{step.largest_difference:.1e}")
        c2.metric(t("Loss before the update"), f"{step.loss:.4f}")
        c3.metric(t("Loss after one update"), f"{step.loss_after:.4f}", delta=f"{step.loss_after - step.loss:+.4f}",
                  delta_color="inverse")
        st.caption(t("Update: θ ← θ − η ∂L/∂θ for every weight and bias, here W₁ = {w1} becomes {w1_new}. Autograd "
                     "computes only the gradients of the parameters (∂L/∂z and ∂L/∂a are intermediate: “—”).",
                     w1=_matrix(w1), w1_new=_matrix(step.updated.w1)))


def _vector(values) -> str:
    numbers = ["—" if not np.isfinite(v) else f"{v:.4f}" for v in np.ravel(values)]
    return numbers[0] if len(numbers) == 1 else "(" + ", ".join(numbers) + ")"


def _matrix(values: np.ndarray) -> str:
    return "[" + "; ".join(", ".join(f"{v:.4f}" for v in row) for row in values) + "]"


def descent_view() -> None:
    st.write(t("Three optimisers walk downhill on the same surface from the same start, with the same learning rate: "
               "plain SGD follows the slope; momentum keeps part of each step's velocity; Adam scales each "
               "coordinate's step by the size of its recent gradients."))
    c1, c2, c3 = st.columns(3)
    c1.selectbox(t("Surface"), list(SURFACES), key="learn_surface", format_func=lambda s: t(SURFACES[s][0]))
    c2.number_input(t("Learning rate"), 1e-4, 2.0, step=0.01, format="%.4f", key="learn_descent_rate")
    c3.slider(t("Steps"), 1, 500, key="learn_steps")
    with shown_errors():
        descent = request.descent(st.session_state)
        c1, c2 = st.columns([3, 2])
        with c1:
            chart(surface_figure(descent), "learn_surface_chart", "loss-surface")
        with c2:
            chart(descent_losses_figure(descent), "learn_descent_losses", "descent-losses")
            for path in descent.paths:
                st.markdown(t("**{method}**: loss {start:.3f} → {end:.4f} in {steps} steps", method=t(METHODS[path.method]),
                              start=path.losses[0], end=path.losses[-1], steps=len(path.losses) - 1))


def fine_tuning_view() -> None:
    st.write(t("Pretraining, then fine-tuning: the same sentiment task learned by a linear head on three kinds of "
               "features of the same sentences. MiniLM's pretrained sentence vectors; the same network with random "
               "weights (no pretraining); and a bag of words. With few labelled examples, what pretraining learned "
               "carries most of the answer."))
    st.slider(t("Labelled training sentences"), 2, 2465, key="learn_size")
    with shown_errors():
        tuning = remembered(request.fine_tuning(st.session_state), **mine("learn", "fine-tuning"))
        chart(head_curves_figure(tuning), "learn_heads", "fine-tuning-curves")
        table = {t("features"): [t(FEATURES[run.features]) for run in tuning.runs]}
        for name, pick in ((t("accuracy"), "accuracy"), (t("precision"), "precision"), (t("recall"), "recall"),
                           ("F1", "f1")):
            table[name] = [f"{getattr(run.heldout, pick):.1%}" for run in tuning.runs]
        st.markdown(t("**Held out** (630 sentences the heads never saw; precision, recall and F1 of “positive”):"))
        st.table(table)
        chart(learning_curve_figure(tuning), "learn_curve", "learning-curve")
