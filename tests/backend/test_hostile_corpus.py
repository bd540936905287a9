"""The hostile-input corpus through the backend: each input's outcome is pinned, answered or
refused with a `DashboardError` whose message names the reason, in laptop and in public mode; the
table covers every input of the corpus, so a new input needs its own expected outcome."""

import pytest

from backend.attention.weights import attention
from backend.generation import remote_http
from backend.generation.engines import choose_engine
from backend.generation.in_process import generate
from backend.generation.openai_engine import RemoteStream
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import DashboardError
from backend.text.classify import classify
from backend.text.evaluation import read_table
from backend.text.explain_text import explain_text
from backend.text.teaching import teaching_set
from backend.vision.image_decoding import load_image
from tests.hostile_inputs import (
    CSV_REFUSALS,
    CSVS,
    SERVER_URLS,
    TAUGHT_EXAMPLES,
    TEXTS,
    bad_image_refusals,
    bad_images,
)

TEXT_TASKS = {
    "classify": lambda text: classify(text)[0].label,
    "explain": lambda text: explain_text(text, steps=4).attributions,
    "attention": lambda text: attention(text).tokens,
    "generate": lambda text: [s.text for s in generate(text, GenerationSettings(max_new_tokens=3, temperature=0))],
}
ANSWERED = "answered"


def _refused(reason: str) -> str:
    return f"refused: {reason}"


def _every_task(outcome: str) -> dict[str, str]:
    return dict.fromkeys(TEXT_TASKS, outcome)


def _expected_texts(public: bool) -> dict[tuple[str, str], str]:
    """Each text's outcome in each task: answered, or refused with a message containing the reason."""
    too_long = _refused(f"characters long; the limit here is {'4,000' if public else '20,000'}")
    # In public mode SmolLM2 reads at most 512 prompt tokens; these two texts are 780 and 690.
    too_many_tokens = {**_every_task(ANSWERED), "generate": _refused("reads at most 512 here")} if public else _every_task(ANSWERED)
    table = {
        "empty": {**_every_task(_refused("The text is empty")), "generate": _refused("The prompt is empty")},
        "whitespace": {**_every_task(_refused("The text is empty")), "generate": _refused("The prompt is empty")},
        "100k characters": _every_task(too_long),
        "NUL and controls": _every_task(ANSWERED),
        "zero-width only": _every_task(_refused("has no visible characters")),
        "lone surrogates": _every_task(ANSWERED),
        "emoji": _every_task(ANSWERED),
        "CJK": _every_task(ANSWERED),
        "RTL": _every_task(ANSWERED),
        "HTML payload": _every_task(ANSWERED),
        "Markdown payload": _every_task(ANSWERED),
        "Markdown links and images": _every_task(ANSWERED),
        "one long word": too_many_tokens,
        "combining marks": too_many_tokens,
    }
    return {(name, task): outcome for name, by_task in table.items() for task, outcome in by_task.items()}


CSV_OUTCOMES = {name: ANSWERED if reason is None else _refused(reason) for name, reason in CSV_REFUSALS.items()}


def _outcome(call) -> str:
    """'answered', or 'refused: ' and the visitor's message."""
    try:
        call()
    except DashboardError as exc:
        message = str(exc).strip()
        assert message and "Traceback" not in message
        return _refused(message)
    return ANSWERED


def _check(outcomes: dict, expected: dict) -> None:
    """Every input's outcome is the expected one (a refusal carries the expected reason)."""
    assert outcomes.keys() == expected.keys(), "every input of the corpus has exactly one expected outcome"
    wrong = []
    for key, want in expected.items():
        got = outcomes[key]
        ok = got == want if want == ANSWERED else got.startswith("refused: ") and want.removeprefix("refused: ") in got
        if not ok:
            wrong.append(f"{key}: expected {want!r}, got {got!r}")
    assert not wrong, "\n".join(wrong)


def _summary(label: str, outcomes: dict) -> str:
    answered = sum(v == ANSWERED for v in outcomes.values())
    return f"{label}: {len(outcomes)} outcomes checked, {answered} answered, {len(outcomes) - answered} refused"


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_text_gets_its_pinned_outcome_from_every_text_task(public, monkeypatch):
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)
    outcomes = {(name, task): _outcome(lambda: run(text)) for name, text in TEXTS.items() for task, run in TEXT_TASKS.items()}
    _check(outcomes, _expected_texts(public))
    assert len(outcomes) == 14 * 4
    print(_summary(f"{'public' if public else 'laptop'} texts", outcomes))


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_bad_image_and_bomb_is_refused_with_its_own_reason(public, monkeypatch):
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)
    expected = {name: _refused(reason) for name, reason in bad_image_refusals().items()}
    outcomes = {name: _outcome(lambda data=data, name=name: load_image(data, name)) for name, data in bad_images().items()}
    _check(outcomes, expected)
    assert len(outcomes) == 15 + 6
    print(_summary(f"{'public' if public else 'laptop'} images", outcomes))


def test_every_bad_csv_gets_its_pinned_outcome():
    outcomes = {name: _outcome(lambda data=data: read_table(data)) for name, data in CSVS.items()}
    _check(outcomes, CSV_OUTCOMES)
    assert len(outcomes) == 8
    print(_summary("CSVs", outcomes))


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_server_url_is_refused_before_anything_connects(public, monkeypatch):
    """On a laptop a typed URL's every address is checked first; in public mode no URL is taken."""
    for name in [n for n in __import__("os").environ if n.startswith(("DASHBOARD_OPENAI_", "DASHBOARD_ENGINE_"))]:
        monkeypatch.delenv(name)
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)

    def no_connection(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(remote_http, "_connect_to", no_connection)
    monkeypatch.setattr(__import__("socket"), "create_connection", no_connection)
    reason = "offers only its own servers" if public else "points at an address no generation server lives at"
    expected = {url: _refused(reason) for url in SERVER_URLS}
    outcomes = {
        url: _outcome(lambda url=url: list(RemoteStream("Hi", GenerationSettings(max_new_tokens=2), choose_engine(url))))
        for url in SERVER_URLS
    }
    _check(outcomes, expected)
    assert len(outcomes) == 11
    print(_summary(f"{'public' if public else 'laptop'} server URLs", outcomes))


def _expected_taught(public: bool) -> dict[str, str]:
    tokens = _refused(f"tokens long, but all-MiniLM-L6-v2 (sentence encoder) reads at most {128 if public else 256} here")
    characters = _refused(f"characters long; the limit here is {'4,000' if public else '20,000'}")
    return {
        "102 tokens": ANSWERED,
        "3,000 characters, 687 tokens": tokens,
        "5,000 characters": characters if public else tokens,
        "20,001 characters": characters,
        "zero-width only": _refused("has no visible characters"),
    }


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_taught_example_is_held_to_the_text_limits_with_a_message_naming_it(public, monkeypatch):
    """A teaching table with one hostile example: taught and used, or refused with a message that
    names the example and the limit (before the fix, one past the encoder's 512 positions was an
    unexpected error)."""
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)

    def taught(rows: list[list[str]]) -> str:
        spec = teaching_set({"text": text, "label": label} for text, label in rows).spec()
        return classify("I was charged twice, give my money back.", spec)[0].label

    outcomes = {name: _outcome(lambda rows=rows: taught(rows)) for name, rows in TAUGHT_EXAMPLES.items()}
    _check(outcomes, _expected_taught(public))
    refusals = [message for message in outcomes.values() if message != ANSWERED]
    assert all("The taught example “" in message for message in refusals), refusals
    assert len(outcomes) == 5
    print(_summary(f"{'public' if public else 'laptop'} taught examples", outcomes))


def test_formula_cells_from_a_csv_do_not_run_in_the_downloaded_results():
    from ui.core.downloads import spreadsheet_safe

    frame = read_table(CSVS["formula cells"]).frame
    assert frame["text"].tolist() == ["=cmd|' /C calc'!A0", "@SUM(1+1)"]
    safe = spreadsheet_safe(frame).to_csv(index=False)
    assert "\n'=cmd|" in safe and "\n'@SUM(1+1)" in safe and "\n=" not in safe
