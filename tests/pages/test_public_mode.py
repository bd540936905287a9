"""Links from strangers: the operator's key and servers stay the operator's, in laptop and public mode."""

import gc
import os

import pytest
from PIL import Image

from tests.fake_servers import Recording, serve
from tests.pages.test_pages import _opened_by_link


@pytest.fixture
def recording_server(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("DASHBOARD_OPENAI_", "DASHBOARD_ENGINE_")) or name == "DASHBOARD_PUBLIC":
            monkeypatch.delenv(name)
    Recording.seen = []
    server, url = serve(Recording)
    yield url
    server.shutdown()


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


def test_a_link_naming_another_host_gets_no_key(recording_server, monkeypatch):
    """engine=server&server=<their host>&run=1 used to send DASHBOARD_OPENAI_API_KEY there."""
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DASHBOARD_OPENAI_API_KEY", "sk-operator-secret")
    at = _opened_by_link("generate", {"engine": "server", "server": recording_server, "prompt": "Hi", "run": "1"})
    assert not at.exception and not at.error, _errors(at)
    assert Recording.seen, "laptop mode: a typed or linked URL is still used"
    assert all(auth is None for _, auth, _ in Recording.seen), "but the operator's key is not sent there"
    page = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.text_input])
    assert "sk-operator-secret" not in page and "127.0.0.1:9/" not in page, "the configured URL and key are never shown"


def test_public_mode_never_connects_to_a_linked_url(recording_server, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    for target in (recording_server, "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3:8080/v1"):
        at = _opened_by_link("generate", {"engine": "server", "server": target, "prompt": "Hi", "max_tokens": "4", "run": "1"})
        assert not at.exception
        assert at.segmented_control(key="generate_engine").value == "in-process", "no server offered: the link's choice is refused"
    assert Recording.seen == [], "no connection was made"


def test_public_mode_offers_configured_servers_by_name_only(recording_server, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    monkeypatch.setenv("DASHBOARD_ENGINE_1_URL", recording_server)
    monkeypatch.setenv("DASHBOARD_ENGINE_1_NAME", "Lab GPU")
    monkeypatch.setenv("DASHBOARD_ENGINE_1_KEY", "sk-lab")
    at = _opened_by_link("generate", {"engine": "server", "server": "http://127.0.0.1:1/v1", "prompt": "Hi", "run": "1"})
    assert not at.exception and not at.error, _errors(at)
    assert at.selectbox(key="generate_server").options == ["Lab GPU"] and at.selectbox(key="generate_server").value == "Lab GPU"
    assert any("server=" in w.value and "not one of the choices" in w.value for w in at.warning)
    assert [auth for _, auth, _ in Recording.seen] == ["Bearer sk-lab", "Bearer sk-lab"], "the operator's own server, with its key"
    page = " ".join(str(e.value) for e in [*at.markdown, *at.caption])
    assert recording_server not in page and "sk-lab" not in page and "Lab GPU" in page


def test_recognise_class_5000_opened_50_times_keeps_memory_flat():
    """Each link used to leave its failed explanation job, with a full decoded photo, in the
    shared answers for good; now the job and its photo are let go when it fails."""
    from ui.core.jobs import _shared_results

    def live_photos() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, Image.Image) and o.size == (451, 300))

    before = None
    for i in range(50):
        at = _opened_by_link("recognise", {"class": str(5000 + i)})
        assert not at.exception
        assert any("does not exist" in e.value for e in at.error)
        del at
        if i == 4:
            before = live_photos()
    assert _shared_results("recognise_explain", 64).sizes()[1] == 0, "no failed job is held"
    assert live_photos() <= before, "no photo more than after the first five links"
