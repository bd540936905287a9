"""The hostile-input corpus through the backend: every input is answered or refused with a
`DashboardError` (a message for the visitor), in laptop and in public mode; nothing else escapes."""

import pytest

from backend.attention.weights import attention
from backend.generation.in_process import generate
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import DashboardError
from backend.text.classify import classify
from backend.text.evaluation import read_table
from backend.text.explain_text import explain_text
from backend.vision.image_decoding import load_image
from tests.hostile_inputs import CSVS, TEXTS, bad_images

TEXT_TASKS = {
    "classify": lambda text: classify(text)[0].label,
    "explain": lambda text: explain_text(text, steps=4).attributions,
    "attention": lambda text: attention(text).tokens,
    "generate": lambda text: [s.text for s in generate(text, GenerationSettings(max_new_tokens=3, temperature=0))],
}


def _outcome(call) -> str:
    try:
        call()
    except DashboardError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
        return "refused"
    return "answered"


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_text_is_answered_or_refused_by_every_text_task(public, monkeypatch):
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    outcomes = {(name, task): _outcome(lambda: run(text)) for name, text in TEXTS.items() for task, run in TEXT_TASKS.items()}
    assert outcomes[("empty", "classify")] == outcomes[("zero-width only", "generate")] == "refused"
    assert outcomes[("100k characters", "attention")] == "refused"
    assert outcomes[("emoji", "classify")] == outcomes[("CJK", "generate")] == outcomes[("HTML payload", "explain")] == "answered"
    print(f"{'public' if public else 'laptop'}: {len(outcomes)} text inputs, "
          f"{sum(v == 'answered' for v in outcomes.values())} answered, {sum(v == 'refused' for v in outcomes.values())} refused")


def test_every_bad_image_and_bomb_is_refused():
    outcomes = {name: _outcome(lambda data=data, name=name: load_image(data, name)) for name, data in bad_images().items()}
    assert set(outcomes.values()) == {"refused"}, outcomes
    assert len(outcomes) >= 20


def test_every_bad_csv_is_read_or_refused():
    outcomes = {name: _outcome(lambda data=data: read_table(data)) for name, data in CSVS.items()}
    assert outcomes["empty"] == outcomes["binary"] == "refused"
    assert outcomes["latin-1"] == "answered"


def test_formula_cells_from_a_csv_do_not_run_in_the_downloaded_results():
    from ui.export import spreadsheet_safe

    frame = read_table(CSVS["formula cells"]).frame
    assert frame["text"].tolist() == ["=cmd|' /C calc'!A0", "@SUM(1+1)"]
    safe = spreadsheet_safe(frame).to_csv(index=False)
    assert "\n'=cmd|" in safe and "\n'@SUM(1+1)" in safe and "\n=" not in safe
