"""Entry point: server start-up, page setup and navigation only. Run with `streamlit run app.py`.

Why the file has two halves. Streamlit decides *per process* whether an app uses the `pages/`
folder's automatic navigation: the flag `PagesManager.uses_pages_directory` is set when the
first session starts (a `pages/` folder sits next to the script) and is only cleared when this
script calls `st.navigation`. On a fresh server whose first visitors open a page's own link
(`/generate`), the script runner sees the flag still set and runs `pages/generate.py` on its own,
with a sidebar of raw file names, instead of running this script. So the flag is cleared when the
server starts, before any session: `streamlit run app.py` finds the `st.App` below, serves it,
and runs `server_lifespan` first. Each browser session then runs this file as `__main__`.
"""

from contextlib import asynccontextmanager

import streamlit as st

from backend.runtime.memory import trim_while_idle
from backend.runtime.scheduler import SCHEDULER
from ui.startup.model_loading import load_first_model, warm_up_in_background


def _session_alive(session_id: str | None) -> bool:
    from streamlit.runtime import Runtime

    return session_id is None or not Runtime.exists() or Runtime.instance().is_active_session(session_id)


def _exercise(model_key: str) -> None:
    # Imported in the warm-up thread, not before the server answers: it imports every page's backend.
    from ui.startup.first_calls import exercise

    exercise(model_key)


def _page_imports() -> None:
    import ui.attention.sections  # noqa: F401
    import ui.classify.sections  # noqa: F401
    import ui.generate.sections  # noqa: F401
    import ui.recognise.sections  # noqa: F401


@asynccontextmanager
async def server_lifespan(_app):
    from streamlit.runtime.pages_manager import PagesManager

    from ui.startup.listening import check_listening_address

    check_listening_address()  # first: beyond 127.0.0.1 without public mode, the server does not start

    PagesManager.uses_pages_directory = False  # navigation comes from st.navigation below, always
    import backend.shared.plotting  # noqa: F401  # the first visitors' pages do not each wait on these imports
    SCHEDULER.owner_alive = _session_alive  # queued requests of closed tabs are skipped
    from ui.core.addresses import trusted_proxies

    trusted_proxies()  # a DASHBOARD_TRUSTED_PROXIES that means nothing stops the start here, not each visit
    # The default models load while the first visitors arrive, each when no visitor's request is
    # computing, and each page's computation runs once, briefly, as soon as its model is there, so
    # that its first-call costs are not a visitor's; then the pages' own imports; then every page's
    # examples, answered once and kept, so that an example click is served from memory.
    load_first_model()  # before the server answers: the classification page's model

    def afterwards() -> None:
        _page_imports()
        from ui.startup.examples import precompute_examples

        precompute_examples()  # imported here, as the pages' modules are: in the warm-up thread

    warm_up_in_background(after_each=_exercise, afterwards=afterwards)
    trim_while_idle(SCHEDULER.busy)
    yield


if __name__ == "__main__":
    from backend.shared.language import t
    from ui.core import glossary, language, presentation
    from ui.core.jobs import session_id
    from ui.navigation import HOME, PAGES
    from ui.room.answering import question_page
    from ui.room.ask import PARAM as ASK
    from ui.talk import room

    params = st.query_params.to_dict()
    language.start(params)  # first: everything this run draws reads in the session's language
    st.set_page_config(page_title=t("How AI models work"), page_icon=":material/neurology:", layout="wide",
                       initial_sidebar_state="collapsed" if presentation.start(params) or params.get(ASK) else "auto")
    page = st.navigation([st.Page(p.script, title=t(p.title), icon=p.icon, default=p is HOME)
                          for p in PAGES])
    # Whoever moves to another page gives up their place in the queues of the page they left.
    SCHEDULER.leave_other_slots(session_id(), page.url_path)
    if params.get(ASK):
        # /?ask=<code>: a question for the room, alone on a phone; without the sidebar's panels, so
        # that a room of phones tapping at once each rerun as little as possible
        question_page(params[ASK])
    else:
        room.controls(params)  # presentation mode, the room's QR code, the talk deck
        with st.sidebar:
            glossary.panel()  # the articles' terms, Chinese and English side by side
        page.run()
else:
    app = st.App("app.py", lifespan=server_lifespan)
