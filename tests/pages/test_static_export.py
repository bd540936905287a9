"""The talk deck's static export: real models, one folder that opens from disk, strangers' text escaped."""

import io
import re
import threading
import time
import zipfile
from urllib.parse import quote

import pytest

from backend.runtime.errors import BusyError
from backend.runtime.registry import MINILM
from backend.runtime.scheduler import SCHEDULER, run_now
from tests.hostile_inputs import EXPENSIVE_VIEWS
from ui.core.state import values_from_link
from ui.navigation import BY_PATH
from ui.talk.deck import Deck, View, checked_view
from ui.talk import static_site
from ui.talk.static_site import export_deck, render_view, slug

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def folder() -> dict[str, str]:
    deck = Deck(f"Models, explained {HOSTILE}", (
        checked_view("Wonderful movie", "/classify?text=" + quote("This movie was wonderful, the cast is brilliant and I loved every minute.")
                     + "&classifier=sentiment"),
        checked_view("Capital of France", "/generate?prompt=" + quote("What is the capital of France?") + "&temperature=0&max_tokens=8"),
        checked_view(f"Attention {HOSTILE}", "/attention?text=" + quote(f"The cat sat on the mat. {HOSTILE}") + "&layer=3&head=2"),
    ))
    archive = zipfile.ZipFile(io.BytesIO(export_deck(deck)))
    names = archive.namelist()
    assert all(name.startswith("models-explained-script-alert-1-script/") for name in names), names
    return {name.split("/", 1)[1]: archive.read(name).decode("utf-8") for name in names}


def test_the_folder_holds_an_index_each_view_and_one_plotly(folder):
    assert sorted(folder) == ["index.html", "plotly.min.js", "view-01.html", "view-02.html", "view-03.html"]
    assert len(folder["plotly.min.js"]) > 1_000_000 and "plotly" in folder["plotly.min.js"][:2000].lower()
    for i in (1, 2, 3):
        assert f'href="view-0{i}.html"' in folder["index.html"]


def test_each_view_opens_from_disk_and_links_to_its_neighbours(folder):
    for i in (1, 2, 3):
        page = folder[f"view-0{i}.html"]
        assert '<script src="plotly.min.js"' in page
        assert page.count("plotly.min.js") == 1  # plotly.js itself is not inlined in the page
        assert "plotly-graph-div" in page
        assert 'href="index.html"' in page and "ArrowRight" in page and "PageDown" in page
        assert not re.search(r'(src|href)="(https?:)?//', page), "a page must not load anything from the network"
        assert "@import" not in page and "fonts.googleapis" not in page
    assert 'rel="next" href="view-02.html"' in folder["view-01.html"]
    assert 'rel="prev" href="view-02.html"' in folder["view-03.html"]
    assert 'rel="next"' not in folder["view-03.html"]


def test_each_view_shows_its_real_outcome(folder):
    classify, generate, attention = folder["view-01.html"], folder["view-02.html"], folder["view-03.html"]
    assert "Prediction: positive" in classify
    assert "Integrated Gradients" in classify and ">wonderful</span>" in classify  # the coloured tokens
    assert "sentiment" in classify and "all-MiniLM-L6-v2" in classify  # the settings table
    tokens = re.findall(r'<span title="#\d+ p=[^"]*" style="[^"]*">([^<]*)</span>', generate)
    assert 1 <= len(tokens) <= 8 and "".join(tokens).strip()
    assert "Paris" in "".join(tokens)  # greedy SmolLM2 on this prompt
    assert "Layer 3, head 2" in attention
    for token in ("<code>cat</code>", "<code>mat</code>", "<code>[CLS]</code>"):
        assert token in attention


def test_strangers_text_is_escaped_everywhere(folder):
    for name in ("index.html", "view-01.html", "view-02.html", "view-03.html"):
        assert HOSTILE not in folder[name], name
    assert ESCAPED in folder["index.html"] and ESCAPED in folder["view-03.html"]


def test_a_hub_model_offline_is_a_message_not_a_crash():
    page = render_view(View("Fine-tuned", "/classify?model=hub:distilbert-sst2&text=Nice"))
    assert 'class="message"' in page and "Hub" in page
    broken = render_view(View("Typos", "/attention?text=&layer=banana"))
    assert "layer=" in broken and "not understood" in broken  # the notice of the link's bad value
    assert 'class="message"' in broken  # no text: a message, not an exception


def test_home_is_a_title_slide_listing_the_views():
    deck = Deck("A <b>talk</b>", (View("Start", "/"), View("Second view", "/attention")))
    page = render_view(deck.views[0], deck)
    assert "A &lt;b&gt;talk&lt;/b&gt;" in page and "Second view" in page


def test_link_values_fall_back_to_defaults_with_a_notice():
    fields = BY_PATH["attention"].fields()
    values, notices = values_from_link(fields, {"layer": "3", "head": "x", "colour": "red"})
    assert values["attention_layer"] == 3 and values["attention_head"] == 0
    assert len(notices) == 2 and any("head=" in n for n in notices) and any("unknown setting" in n for n in notices)
    assert slug("Ça va? Attention, explained!") == "ca-va-attention-explained" and slug("<>") == "deck"


# ---- the export inside the caps (the hostile corpus's export flood, one visitor at a time) ----

class _Gate:
    """A model call that blocks its queue until released."""

    def __init__(self) -> None:
        self.release, self.entered = threading.Event(), threading.Event()

    def __call__(self, *args):
        self.entered.set()
        assert self.release.wait(60)
        return "held"


def _fresh_view(n: int) -> View:
    """A classification no one has asked for yet (nothing held: it has to be computed)."""
    return checked_view(f"Fresh {n}", "/classify?classifier=sentiment&text=" + quote(f"Export check number {n} {time.time()}"))


def _archive(data: bytes) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name.split("/", 1)[1]: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_export_jobs_count_against_the_visitors_address(monkeypatch):
    """The export's jobs carry the visitor's address: with the address's only place taken by a
    request still running, the export's view is refused with the per-address message."""
    monkeypatch.setenv("DASHBOARD_JOBS_PER_ADDRESS", "1")
    gate = _Gate()
    blocker = SCHEDULER.submit("export-test-gate", gate, client="203.0.113.5")
    try:
        assert gate.entered.wait(30)
        files = _archive(export_deck(Deck("Flood", (_fresh_view(1),)), owner="visitor-a", client="203.0.113.5"))
        assert "the most one address may have here" in files["view-01.html"]
        other = _archive(export_deck(Deck("Calm", (_fresh_view(2),)), owner="visitor-b", client="198.51.100.9"))
        assert "Prediction: " in other["view-01.html"]
    finally:
        gate.release.set()
        run_now(blocker)


def test_an_export_is_dropped_when_its_visitor_leaves(monkeypatch):
    monkeypatch.setattr(SCHEDULER, "owner_alive", lambda owner: owner != "closed-tab")
    files = _archive(export_deck(Deck("Gone", (_fresh_view(3), _fresh_view(4))), owner="closed-tab", client="198.51.100.10"))
    for name in ("view-01.html", "view-02.html"):
        assert "has left" in files[name] and "Prediction" not in files[name]
    assert "2 of 2 views were left out" in files["index.html"]


def test_the_budget_gives_up_the_job_at_hand_and_leaves_out_the_rest(monkeypatch):
    """With the classifier's queue held, the export's first view waits out the (shortened)
    budget; its job is then cancelled, not left queued, and the remaining view is left out."""
    monkeypatch.setattr(static_site, "LAPTOP_EXPORT_SECONDS", 1.5)
    gate = _Gate()
    blocker = SCHEDULER.submit(MINILM.key, gate)
    try:
        assert gate.entered.wait(30)
        started = time.monotonic()
        files = _archive(export_deck(Deck("Slow", (_fresh_view(5), _fresh_view(6))), owner="visitor-c", client="198.51.100.11"))
        assert time.monotonic() - started < 30
        assert SCHEDULER.queue(MINILM.key).length == 1  # the blocker alone: the export's job left the line
        for name in ("view-01.html", "view-02.html"):
            assert "time budget (2 s) was used up" in files[name]
        assert "2 of 2 views were left out" in files["index.html"]
    finally:
        gate.release.set()
        run_now(blocker)


def test_one_export_per_session_and_per_address_at_a_time(monkeypatch):
    visitor = static_site.Visitor("visitor-d", "198.51.100.12")
    with static_site.RUNNING.hold(visitor):
        assert static_site.RUNNING.busy("visitor-d", None) and static_site.RUNNING.busy(None, "198.51.100.12")
        for owner, client in (("visitor-d", "198.51.100.99"), ("another-tab", "198.51.100.12")):
            with pytest.raises(BusyError, match="still being made"):
                export_deck(Deck("Twice", (_fresh_view(7),)), owner=owner, client=client)
        monkeypatch.setattr(static_site, "LAPTOP_MOST_EXPORTS", 1)
        with pytest.raises(BusyError, match="the most it makes at once"):
            export_deck(Deck("Another", (_fresh_view(8),)), owner="visitor-e", client="198.51.100.13")
    assert not static_site.RUNNING.busy("visitor-d", "198.51.100.12")


def test_a_bug_in_a_view_shows_an_error_id_not_the_exception(monkeypatch):
    def broken(values, out, visitor):
        raise RuntimeError("<img src=x onerror=alert(1)> at /srv/app/secret.py line 3")

    monkeypatch.setitem(static_site.PAGES, "attention", broken)
    page = render_view(View("Broken", "/attention?text=hello"))
    assert "error id" in page and "secret.py" not in page and "<img" not in page and "RuntimeError" not in page


def test_the_corpus_export_flood_in_public_mode_stays_inside_its_budget_and_leaves_nothing_queued(monkeypatch):
    """The hostile corpus's export flood: a 40-view deck of the most expensive views, asked for
    twice at once from one address in public mode (budget shortened to 3 s here). The second ask
    is refused; the first ends once its budget is spent, with the views it could not finish left
    out, and leaves none of its requests behind in any queue."""
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    monkeypatch.setattr(static_site, "PUBLIC_EXPORT_SECONDS", 3.0)
    deck = Deck("Flood", tuple(checked_view(f"V{i}", link) for i, link in enumerate(EXPENSIVE_VIEWS)))
    assert len(deck.views) == 40
    started = threading.Event()
    found: dict[str, object] = {}

    def first() -> None:
        found["zip"] = export_deck(deck, on_view=lambda i, n, view: started.set(), owner="flooder-1", client="198.51.100.66")

    worker = threading.Thread(target=first)
    began = time.monotonic()
    worker.start()
    assert started.wait(30)
    with pytest.raises(BusyError, match="still being made"):
        export_deck(deck, owner="flooder-2", client="198.51.100.66")
    worker.join(120)
    assert not worker.is_alive() and time.monotonic() - began < 60
    files = _archive(found["zip"])
    left_out = sum("time budget (3 s) was used up" in files[f"view-{i:02d}.html"] for i in range(1, 41))
    assert left_out >= 36 and f"{left_out} of 40 views were left out" in files["index.html"]
    for name in SCHEDULER.queue_names:
        assert not [job for job in SCHEDULER.queue(name)._waiting if job.client == "198.51.100.66"], name


def test_a_refused_export_downloads_a_page_that_says_why(monkeypatch):
    """The download button cannot show a message: a second export from the same address while the
    first is being made downloads an index.html that says why, not a bare "Failed to generate"."""
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    monkeypatch.setattr(static_site, "PUBLIC_EXPORT_SECONDS", 3.0)
    deck = Deck("Flood <b>", tuple(checked_view(f"V{i}", link) for i, link in enumerate(EXPENSIVE_VIEWS[:8])))
    started = threading.Event()
    worker = threading.Thread(target=lambda: export_deck(deck, on_view=lambda i, n, v: started.set(),
                                                         owner="tab-1", client="198.51.100.67"))
    worker.start()
    assert started.wait(30)
    files = _archive(static_site.export_or_refusal(deck, "tab-2", "198.51.100.67"))
    worker.join(120)
    assert list(files) == ["index.html"]
    assert "This export was not made. An export you asked for is still being made" in files["index.html"]
    assert "Flood &lt;b&gt;" in files["index.html"] and "Flood <b>" not in files["index.html"]
