"""A talk deck as a folder of static web pages: each view computed now with the real models,
zipped with one copy of plotly.js, so the talk runs from a laptop's disk with no server and no
network (a projector's browser, a venue with no Wi-Fi).

`render_view(view)` is one view's body; `export_deck(deck)` is the zip. Every view's inputs are
read from its link through the page's own fields and built by the page's own request functions
(each page's `inputs.py` and `request.py`), so a link means here what it
means on the page. Links come from strangers: every text that reaches the HTML is escaped, and a
view that cannot be computed (a Hub model offline, an empty text) becomes a message on its page.
Nothing here draws with Streamlit.

An export is the visitor's own work, inside the same caps as their pages: each job it queues
carries their session and address (the per-address limit counts it, and it is dropped when their
tab closes); one export per session and per address at a time; a time budget for the whole export
(`export_seconds()`: 10 minutes on a laptop, 2 in public mode), after which the job at hand is
given up and the remaining views say they were left out. Views the server already holds (the
pages' examples, views a visitor just opened) cost nothing and come first-come from memory. What
it computes is background work (`scheduler.in_background`): after every visitor's request in each
model's line, and on at most one core fewer than the server has, so a room's visitors keep a core
while exports are made.
"""

from __future__ import annotations

import html
import io
import logging
import re
import threading
import time
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from backend.attention.attention_figures import weights_heatmap
from backend.attention.matrices import VIEW_TOKENS, head_matrix, view_matrix, window_for
from backend.generation.generation_figures import (
    legend_html,
    step_probabilities_chart,
    steps_html,
)
from backend.generation.token_steps import stop_reason_text
from backend.learning.learning_figures import (
    boundary_figure,
    head_curves_figure,
    learning_curve_figure,
    loss_figure,
    network_figure,
    surface_figure,
)
from backend.learning.toy_training import data_of, submit_training
from backend.runtime.errors import BusyError, DashboardError
from backend.runtime.public_mode import is_public
from backend.runtime.registry import MODELS
from backend.runtime.scheduler import SCHEDULER, Job, in_background
from backend.shared.language import current, n_, t
from backend.shared.plotting import png_source
from backend.text.text_figures import attribution_bars, label_probabilities, tokens_html
from backend.vision.image_figures import saliency_overlay, top_classes
from backend.vision.saliency import CAM_METHODS, METHODS
from ui.attention import request as attention_request
from ui.attention.inputs import VIEWS as ATTENTION_VIEWS
from ui.classify import request as classify_request
from ui.classify.inputs import EXAMPLES_KEY
from ui.core.jobs import answer_or_job
from ui.core.request import Request
from ui.core.state import values_from_link
from ui.generate import request as generate_request
from ui.generate.kept import kept_or_submitted
from ui.learn import request as learn_request
from ui.learn.inputs import VIEWS as LEARN_VIEWS
from ui.navigation import BY_PATH
from ui.recognise import request as recognise_request
from ui.talk.deck import MAX_VIEWS, Deck, View
from ui.talk.demo_deck import shown_title

log = logging.getLogger(__name__)

LAPTOP_EXPORT_SECONDS = 600.0  # the whole export's time budget on a laptop
PUBLIC_EXPORT_SECONDS = 120.0  # and in public mode
LAPTOP_MOST_EXPORTS, PUBLIC_MOST_EXPORTS = 4, 2  # exports made at once, all visitors together
POLL_SECONDS = 0.5  # how often a wait checks the budget and that the visitor is still there
PHOTO_SIDE = 640  # the example photo is embedded at most this many pixels on its longer side
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
# The main text of each page: shown as a quotation, not as a row of the settings table.
MAIN_TEXTS = {"classify_text", "classify_labels", "generate_prompt", "generate_system", "attention_text"}

STYLE = """
:root { color-scheme: light; }
body { font: 20px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       background: #fafafa; color: #111; max-width: 1200px; margin: 0 auto; padding: 16px 32px 48px; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0.4em 0; }
h2 { font-size: 1.4rem; margin: 1.2em 0 0.4em; }
nav { display: flex; gap: 1.5em; align-items: center; font-size: 1rem; padding: 8px 0;
      border-bottom: 1px solid #ccc; }
nav .where { margin-left: auto; color: #444; }
a { color: #0b4fa8; }
.page { color: #444; font-size: 1rem; text-transform: uppercase; letter-spacing: 0.05em; margin-top: 1em; }
blockquote { margin: 0.6em 0; padding: 0.6em 1em; background: #fff; border-left: 6px solid #1f5fbf;
             white-space: pre-wrap; overflow-wrap: anywhere; }
table.settings { border-collapse: collapse; font-size: 0.9rem; margin: 0.6em 0; }
table.settings caption { text-align: left; }
table.settings th, table.settings td { border: 1px solid #bbb; padding: 4px 10px; text-align: left;
                                       overflow-wrap: anywhere; }
table.settings th { background: #eee; font-weight: 600; }
.answer { font-size: 1.6rem; font-weight: 700; margin: 0.4em 0; }
.message { background: #fff4e5; border: 2px solid #d9480f; padding: 0.8em 1em; border-radius: 6px; }
.notice { background: #fff8db; border: 1px solid #e0b400; padding: 0.5em 1em; border-radius: 6px; font-size: 0.9rem; }
.caption { color: #444; font-size: 0.85rem; }
.figure { background: #fff; margin: 0.8em 0; }
img.photo { max-width: 100%; height: auto; border: 1px solid #ccc; }
ol.views { font-size: 1.2rem; line-height: 1.8; }
""".strip()

# ArrowLeft / PageUp: previous page; ArrowRight / PageDown: next (what a presenter's clicker sends).
KEYS_SCRIPT = """
document.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey || (event.target.closest && event.target.closest("input, textarea, select"))) return;
  var rel = {ArrowLeft: "prev", PageUp: "prev", ArrowRight: "next", PageDown: "next"}[event.key];
  var link = rel && document.querySelector('a[rel="' + rel + '"]');
  if (link) { event.preventDefault(); window.location.href = link.href; }
});
""".strip()


class _Sections:
    """The HTML of one view, section by section (every text escaped on its way in; `str()` first, so
    that a text kept untranslated in a shared result reads in the export's language)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(str(text))}</h2>")

    def text(self, text: str, css: str = "") -> None:
        escaped = html.escape(str(text))
        self.parts.append(f'<p class="{css}">{escaped}</p>' if css else f"<p>{escaped}</p>")

    def quote(self, label: str, text: str) -> None:
        self.parts.append(f"<div><strong>{html.escape(str(label))}</strong><blockquote>{html.escape(str(text))}</blockquote></div>")

    def raw(self, markup: str) -> None:
        """Markup made by the backend's own functions (which escape the texts they show)."""
        self.parts.append(markup)

    def figure(self, fig: go.Figure) -> None:
        div = fig.to_html(full_html=False, include_plotlyjs=False, config=FIGURE_CONFIG)
        self.parts.append(f'<div class="figure">{div}</div>')

    def message(self, text: str) -> None:
        self.parts.append(f'<div class="message" role="alert">{html.escape(str(text))}</div>')

    def notice(self, text: str) -> None:
        self.parts.append(f'<div class="notice">{html.escape(str(text))}</div>')

    def html(self) -> str:
        return "\n".join(self.parts)


def export_seconds() -> float:
    """The time budget of one export (public mode's is short: see the module's docstring)."""
    return PUBLIC_EXPORT_SECONDS if is_public() else LAPTOP_EXPORT_SECONDS


class OverBudget(DashboardError):
    """The export's time budget ran out (or its visitor left) before this view was computed."""


@dataclass
class Visitor:
    """Who an export computes for: their session (`owner`) and address (`client`), as the
    pages' own requests carry them, and when the export's time is up."""

    owner: str | None = None
    client: str | None = None
    deadline: float = field(default_factory=lambda: time.monotonic() + export_seconds())
    left_out: int = 0  # views left out because the budget ran out or the visitor left

    @property
    def submit_args(self) -> dict[str, str | None]:
        # no slot: the visitor moving between pages while the export runs does not cancel it
        return {"owner": self.owner, "client": self.client}

    def check(self) -> None:
        """Raise `OverBudget` once the budget is spent or the visitor's tab has closed."""
        if not SCHEDULER.owner_alive(self.owner):
            self.left_out += 1
            raise OverBudget("Left out: the visitor who asked for this export has left.")
        if time.monotonic() >= self.deadline:
            self.left_out += 1
            raise OverBudget("Left out: this export's time budget ({seconds} s) was used up before this view. Export "
                             "fewer views at a time, or open the views on their pages first: views the server "
                             "already holds cost no time.", seconds=f"{export_seconds():.0f}")

    def wait(self, job: Job) -> Any:
        """The job's outcome; the job given up (see `give_up`) when the budget runs out first."""
        while not job.wait(POLL_SECONDS):
            try:
                self.check()
            except OverBudget:
                self.give_up(job)
                raise
        return job.outcome()

    def give_up(self, job: Job) -> None:
        """Stop following `job`: cancelled if this visitor was the only one following it, left
        running for the others otherwise (an example the server keeps, another visitor's view)."""
        if self.owner is not None and self.owner in job.owners:
            job.leave(self.owner)
        elif self.owner is None and not job.owners and job.owner is None and job.client == self.client:
            job.cancel()  # a script's or test's own export job


def most_exports() -> int:
    """Exports made at once on the whole server (each holds one of the server's few worker threads)."""
    return PUBLIC_MOST_EXPORTS if is_public() else LAPTOP_MOST_EXPORTS


class _Running:
    """The exports being made now, by session and by address: one of each at a time, and at
    most `most_exports()` in all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: set[str] = set()
        self._clients: set[str] = set()
        self._count = 0

    def busy(self, owner: str | None, client: str | None) -> bool:
        """True while this session or address has an export being made."""
        with self._lock:
            return (owner is not None and owner in self._owners) or (client is not None and client in self._clients)

    @contextmanager
    def hold(self, visitor: Visitor) -> Iterator[None]:
        with self._lock:
            if (visitor.owner is not None and visitor.owner in self._owners) or (
                visitor.client is not None and visitor.client in self._clients
            ):
                raise BusyError("An export you asked for is still being made. Wait for its download, then try again.")
            if self._count >= most_exports():
                raise BusyError("The server is making {count} exports already, the most it makes at once. "
                                "Try again in a minute.", count=self._count)
            self._count += 1
            if visitor.owner is not None:
                self._owners.add(visitor.owner)
            if visitor.client is not None:
                self._clients.add(visitor.client)
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                self._owners.discard(visitor.owner)
                self._clients.discard(visitor.client)


RUNNING = _Running()


def _finished(request: Request, visitor: Visitor) -> Any:
    """The request's answer: kept by the server (an example, a view a visitor opened), or computed now."""
    visitor.check()
    found = answer_or_job(request, **visitor.submit_args)
    return visitor.wait(found) if isinstance(found, Job) else found


def _page_name(path: str) -> str:
    return t(BY_PATH[path].title) if path in BY_PATH else path


def _model_name(key: str) -> str:
    return MODELS[key].name if key in MODELS else key


def _settings_rows(fields: list, values: dict[str, Any], params: dict[str, str]) -> list[tuple[str, str]]:
    """The link's settings as (name, value): the model always, then each setting the link gives."""
    rows = []
    for field in fields:
        if field.key in MAIN_TEXTS or field.key == EXAMPLES_KEY:
            continue
        value = values[field.key]
        if field.param == "model":
            if not str(values.get("recognise_model_id", "")).strip():  # an image model id replaces it
                rows.append(("model", _model_name(value)))
        elif field.param in params:
            rows.append((field.param, field.dump(value)))
    return rows


def _settings_table(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    caption = html.escape(t("Settings"))
    return f'<table class="settings"><caption class="caption">{caption}</caption>{body}</table>'


# ---- one function per page: the link's values in, the view's sections out ----

def _classify(values: dict[str, Any], out: _Sections, visitor: Visitor) -> None:
    spec = MODELS[values["classify_model"]]
    text = values["classify_text"]
    if spec.kind != "sequence-classifier" and values["classify_mode"] == "zero-shot":
        out.quote(t("Labels"), values["classify_labels"])
    elif spec.kind != "sequence-classifier" and values["classify_mode"] == "taught":
        rows = values[EXAMPLES_KEY]
        examples = "; ".join(f"{example} → {label}" for example, label in rows[:12]) + (" …" if len(rows) > 12 else "")
        out.text(t("Taught by {count} examples: {examples}", count=len(rows), examples=examples), "caption")
    out.quote(t("Text"), text)
    if not text.strip():
        raise DashboardError("This view's link has no text to classify.")
    classifier = classify_request.classifier(values)
    result = _finished(classify_request.answer(text, classifier), visitor)
    out.text(t("Prediction: {label} ({probability})", label=result.label,
               probability=f"{result.scores[0].probability:.1%}"), "answer")
    if result.warning:
        out.notice(result.warning)
    if result.about:
        out.text(result.about, "caption")
    out.figure(label_probabilities(result))
    found = _finished(classify_request.explanation(values, classifier, [s.label for s in result.scores]), visitor)
    out.heading(t("Why: which tokens pushed toward “{label}” (Integrated Gradients)", label=found.target))
    out.raw(tokens_html(found.tokens, found.attribution("ig").scores))
    out.text(t("Blue pushes toward the label, orange away from it; stronger colour, stronger push."), "caption")
    out.figure(attribution_bars(found, "ig"))
    out.text(t("Model: {model} · device: {device}", model=result.run.model, device=result.run.device), "caption")


def _generate(values: dict[str, Any], out: _Sections, visitor: Visitor) -> None:
    prompt = values["generate_prompt"]
    out.quote(t("Prompt"), prompt)
    if values["generate_chat"] and values["generate_system"].strip():
        out.quote(t("System prompt"), values["generate_system"])
    if not prompt.strip():
        raise DashboardError("This view's link has no prompt to answer.")
    visitor.check()
    stream = visitor.wait(kept_or_submitted(generate_request.generation(values), **visitor.submit_args))
    out.heading(t("The answer, token by token"))
    out.raw(legend_html())
    out.raw(steps_html(stream.steps))
    if stream.steps:
        out.figure(step_probabilities_chart(stream.steps))
    count, reason = len(stream.steps), stop_reason_text(stream.stop_reason)
    if stream.run is not None:
        out.text(t("Model: {model} · device: {device} · {count} tokens · stopped by: {reason}", model=stream.run.model,
                   device=stream.run.device, count=count, reason=reason), "caption")
    else:
        out.text(t("{count} tokens · stopped by: {reason}", count=count, reason=reason), "caption")


def _photo_html(image: Image.Image, caption: str) -> str:
    small = image.copy()
    small.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
    return (f'<figure><img class="photo" alt="{html.escape(caption, quote=True)}" '
            f'src="{png_source(np.asarray(small.convert("RGB")))}"><figcaption class="caption">'
            f"{html.escape(caption)}</figcaption></figure>")


def _recognise(values: dict[str, Any], out: _Sections, visitor: Visitor) -> None:
    if values["recognise_source"] != "Example photo":
        out.notice(t("Uploaded and camera photos are never part of a link: this view shows the example photo."))
    image, image_id = recognise_request.example(values)
    example = values["recognise_example"]  # an example photo's name: a message
    out.raw(_photo_html(image, t("Example photo: {name} ({width}×{height} pixels)", name=t(example),
                                 width=image.width, height=image.height)))
    result = _finished(recognise_request.recognition(values, image, image_id), visitor)
    out.text(t("Top class: {label} ({probability})", label=result.label, probability=f"{result.top[0].probability:.1%}"),
             "answer")
    out.figure(top_classes(result))
    layer, found_asked = recognise_request.cam_layer(values)
    if not found_asked:
        out.notice(t("This model has no CAM layer '{asked}'; showing {layer}.", asked=values["recognise_layer"], layer=layer))
    found = _finished(recognise_request.explanation(values, image, image_id), visitor)
    first = recognise_request.methods(values, is_cnn=layer is not None)[0]
    shown = found.maps[first]
    title = t("{method} at {layer}", method=t(shown.name), layer=found.layer.name) if found.layer else t(shown.name)
    out.heading(t("Where it looked for “{label}” ({probability})", label=found.label,
                  probability=f"{found.probability:.1%}"))
    out.figure(saliency_overlay(found.seen, shown.values, values["recognise_opacity"], title))
    if first in CAM_METHODS:
        out.text(t("{method}: red is where the evidence for the class was.", method=t(METHODS[first])), "caption")
    out.text(t("Model: {model} · device: {device}", model=result.run.model, device=result.run.device), "caption")


# the heading of a view of all heads together, by how they are combined
COMBINED = {"mean": n_("Layer {layer}, mean of all heads"), "max": n_("Layer {layer}, max of all heads")}
SIZES = {  # the model's size and how its tokens read each other, by whether it is a decoder (as on the page)
    False: n_("{n} tokens · {layers} layers × {heads} heads · encoder: every token sees every token."),
    True: n_("{n} tokens · {layers} layers × {heads} heads · decoder: each token sees only itself and earlier tokens."),
}


def _attention(values: dict[str, Any], out: _Sections, visitor: Visitor) -> None:
    text = values["attention_text"]
    out.quote(t("Text"), text)
    if not text.strip():
        raise DashboardError("This view's link has no text to look at.")
    result = _finished(attention_request.weights(values), visitor)
    layer, head_choice = values["attention_layer"], values["attention_head"]
    model = _model_name(values["attention_model"])
    if layer > result.n_layers:
        out.notice(t("{model} has {size} layers; showing the last one instead of {asked}.", model=model,
                     size=result.n_layers, asked=layer))
    if head_choice > result.n_heads:
        out.notice(t("{model} has {size} heads; showing the last one instead of {asked}.", model=model,
                     size=result.n_heads, asked=head_choice))
    layer, head_choice = min(layer, result.n_layers) - 1, min(head_choice, result.n_heads)
    head = head_choice - 1 if head_choice else None
    combine = values["attention_combine"]
    n = len(result.tokens)
    window = window_for(n, values["attention_start"] - 1)
    if n > VIEW_TOKENS:
        out.notice(t("The text is {count} tokens; this view shows tokens {start} to {stop}.", count=n,
                     start=window.start + 1, stop=window.stop))
    opened = values["attention_view"]  # a view's name: a message
    if opened != ATTENTION_VIEWS[0]:
        out.notice(t("The link opens the “{view}” view; the static export shows the heatmap.", view=t(opened)))
    matrix = head_matrix(result, layer, head, combine)
    shown, tokens, _ = view_matrix(result, matrix, values["attention_hide_special"], window)
    title = (t("Layer {layer}, head {head}", layer=layer + 1, head=head + 1) if head is not None
             else t(COMBINED[combine], layer=layer + 1))
    out.heading(title)
    out.raw('<p class="tokens">' + html.escape(t("Tokens:")) + " "
            + " ".join(f"<code>{html.escape(token)}</code>" for token in tokens) + "</p>")
    out.figure(weights_heatmap(shown, tokens, title, result.causal))
    out.text(t("Rows: the token reading (query); columns: the token read (key); each row sums to 1.") + " "
             + t(SIZES[result.causal], n=n, layers=result.n_layers, heads=result.n_heads), "caption")


def _learn(values: dict[str, Any], out: _Sections, visitor: Visitor) -> None:
    """The view the link opens: a training run's final boundary and curves, the backpropagation
    step, the optimisers' paths, or the fine-tuned heads."""
    view = values["learn_view"]
    out.heading(t(view))
    if view == LEARN_VIEWS[0]:
        settings = learn_request.toy_settings(values)
        visitor.check()
        job = submit_training(settings, **visitor.submit_args)
        visitor.wait(job)
        last = job.pieces[-1]
        out.text(t("Epoch {epoch}: train accuracy {train}, test accuracy {test}", epoch=last.epoch,
                   train=f"{last.train_accuracy:.1%}", test=f"{last.test_accuracy:.1%}"), "answer")
        out.figure(boundary_figure(last, data_of(settings)))
        out.figure(loss_figure(last))
    elif view == LEARN_VIEWS[1]:
        step = learn_request.backprop(values)
        out.figure(network_figure(step))
        out.text(t("Loss {before} before the update, {after} after it; the hand-made gradients differ from "
                   "PyTorch autograd's by at most {difference}.", before=f"{step.loss:.4f}",
                   after=f"{step.loss_after:.4f}", difference=f"{step.largest_difference:.1e}"), "caption")
    elif view == LEARN_VIEWS[2]:
        out.figure(surface_figure(learn_request.descent(values)))
    else:
        tuning = _finished(learn_request.fine_tuning(values), visitor)
        out.figure(head_curves_figure(tuning))
        out.figure(learning_curve_figure(tuning))


PAGES: dict[str, Callable[[dict[str, Any], _Sections, Visitor], None]] = {
    "classify": _classify, "generate": _generate, "recognise": _recognise, "attention": _attention, "learn": _learn,
}


def _home(view: View, deck: Deck | None) -> str:
    """The title slide: the deck's title and its views (the view's own title under it)."""
    out = _Sections()
    out.text(_page_name(""), "page")
    out.raw(f"<h1>{html.escape(shown_title(deck.title if deck else view.title))}</h1>")
    if deck is not None:
        if view.title != deck.title:
            out.text(shown_title(view.title))
        items = "".join(f"<li>{html.escape(shown_title(v.title))} <span class=\"caption\">({html.escape(_page_name(v.page))})"
                        "</span></li>" for v in deck.views[:MAX_VIEWS])
        out.raw(f'<ol class="views">{items}</ol>')
    out.text(t("How AI models work: each view was computed with the real models when this deck was exported."), "caption")
    return out.html()


def render_view(view: View, deck: Deck | None = None, visitor: Visitor | None = None) -> str:
    """The body HTML of one view, computed now with the real models for `visitor` (by default
    a script's, with a fresh budget). A view that cannot be computed (a Hub model offline, an
    empty text, a link that names nothing, the budget spent) shows why instead."""
    visitor = visitor if visitor is not None else Visitor()
    if view.page == "":
        return _home(view, deck)
    out = _Sections()
    out.text(_page_name(view.page), "page")
    out.raw(f"<h1>{html.escape(shown_title(view.title))}</h1>")
    compute = PAGES.get(view.page)
    if compute is None:
        out.message(t("'/{page}' is not a page of this app.", page=view.page))
        return out.html()
    fields = BY_PATH[view.page].fields()
    params = view.params
    values, notices = values_from_link(fields, params, BY_PATH[view.page].extras)
    out.raw(_settings_table(_settings_rows(fields, values, params)))
    if notices:
        out.notice(t("Some values in the link were not understood and were reset to defaults: {notices}.",
                     notices="; ".join(notices)))
    try:
        compute(values, out, visitor)
    except DashboardError as error:  # what the pages show as a message: the input, the model, the budget
        out.message(str(error))
    except Exception:  # a bug: the rest of the deck still exports, and the details stay in the log
        error_id = uuid.uuid4().hex[:8]
        log.exception("Deck export: view %r failed (error id %s)", view.link, error_id)
        out.message(t("This view could not be computed: something went wrong inside the app (error id {error_id}). "
                      "Whoever runs the server finds the details in its log under that id.", error_id=error_id))
    return out.html()


# ---- the folder ----

def slug(title: str) -> str:
    """A folder name from a title: 'Attention, explained!' -> 'attention-explained'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-") or "deck"


def _language_tag() -> str:
    """The pages' `lang`: the language they are drawn in (the exporting visitor's)."""
    code = current()
    return "zh-Hans" if code == "zh" else code


def _page(title: str, body: str, nav: str, plotly: bool) -> str:
    script = '<script src="plotly.min.js" charset="utf-8"></script>' if plotly else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{_language_tag()}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n{script}\n</head>\n<body>\n"
        f"{nav}\n<main>\n{body}\n</main>\n{nav}\n<script>\n{KEYS_SCRIPT}\n</script>\n</body>\n</html>\n"
    )


def _nav(index: int, count: int) -> str:
    """Links for view `index` (1-based; 0 is the index page)."""
    def view_file(i: int) -> str:
        return f"view-{i:02d}.html"

    previous, following, index_page = html.escape(t("← Previous")), html.escape(t("Next →")), html.escape(t("Index"))
    links = []
    if index > 1:
        links.append(f'<a rel="prev" href="{view_file(index - 1)}">{previous}</a>')
    elif index == 1:
        links.append(f'<a rel="prev" href="index.html">{previous}</a>')
    if index:
        links.append(f'<a href="index.html">{index_page}</a>')
    if index < count:
        links.append(f'<a rel="next" href="{view_file(index + 1)}">{following}</a>')
    where = f"{index} / {count}" if index else html.escape(t("{count} views", count=count))
    return f'<nav>{"".join(links)}<span class="where">{where}</span></nav>'


def _index(deck: Deck, views: tuple[View, ...], left_out: int = 0) -> str:
    items = "".join(
        f'<li><a href="view-{i:02d}.html">{html.escape(shown_title(v.title))}</a> '
        f'<span class="caption">({html.escape(_page_name(v.page))})</span></li>'
        for i, v in enumerate(views, 1)
    )
    out = _Sections()
    out.raw(f"<h1>{html.escape(shown_title(deck.title))}</h1>")
    if left_out:
        out.text(t("{left_out} of {count} views were left out: the export's time budget ({seconds} s) ran out first. "
                   "Each of them says so on its page.", left_out=left_out, count=len(views),
                   seconds=f"{export_seconds():.0f}"), "notice")
    out.raw(f'<ol class="views">{items}</ol>')
    out.text(t("Arrow keys or Page Up / Page Down move between views. Everything here opens from disk, with no "
               "server and no network."), "caption")
    return _page(shown_title(deck.title), out.html(), _nav(0, len(views)), plotly=False)


def export_deck(
    deck: Deck, on_view: Callable[[int, int, View], None] | None = None, owner: str | None = None,
    client: str | None = None,
) -> bytes:
    """The deck as a zip of one folder: index.html, view-01.html, … and plotly.min.js, computed
    for the visitor `owner` (their session) at `client` (their address) within one time budget.
    `on_view(i, n, view)` is called before view i (1-based) of n is computed (for progress).
    Raises `BusyError` while the same session or address has an export being made."""
    from plotly.offline import get_plotlyjs

    visitor = Visitor(owner, client)
    views = deck.views[:MAX_VIEWS]
    folder = slug(deck.title)
    buffer = io.BytesIO()
    # background work: after every visitor's request, and never on all the cores at once
    with RUNNING.hold(visitor), in_background(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, view in enumerate(views, 1):
            if on_view is not None:
                on_view(i, len(views), view)
            body = render_view(view, deck, visitor)
            page = _page(f"{shown_title(view.title)} · {shown_title(deck.title)}", body, _nav(i, len(views)), plotly=True)
            archive.writestr(f"{folder}/view-{i:02d}.html", page)
        archive.writestr(f"{folder}/index.html", _index(deck, views, visitor.left_out))
        archive.writestr(f"{folder}/plotly.min.js", get_plotlyjs())
    return buffer.getvalue()


def export_or_refusal(deck: Deck, owner: str | None, client: str | None) -> bytes:
    """What the download button hands the visitor: the export, or, when it is refused (an export of
    theirs is still being made, or the server's are all in use), a zip whose index.html says why.
    A download button cannot show a message of its own: an exception there reaches the visitor
    only as "Failed to generate file for download" (and the server log as a traceback)."""
    try:
        return export_deck(deck, owner=owner, client=client)
    except BusyError as refused:
        buffer = io.BytesIO()
        why = t("This export was not made. {reason}", reason=refused)
        body = f"<h1>{html.escape(shown_title(deck.title))}</h1>\n<p class=\"notice\">{html.escape(why)}</p>"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{slug(deck.title)}/index.html", _page(shown_title(deck.title), body, "", plotly=False))
        return buffer.getvalue()
