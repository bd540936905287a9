"""The app's pages, listed once: the router, the deck panel, Home, links and the static site read
them here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from backend.shared.language import n_
from ui.attention import inputs as attention_inputs
from ui.classify import inputs as classify_inputs
from ui.core.state import Field, PageState
from ui.generate import inputs as generate_inputs
from ui.learn import inputs as learn_inputs
from ui.recognise import inputs as recognise_inputs


def _no_inputs() -> list[Field]:
    return []


@dataclass(frozen=True)
class Page:
    path: str  # the URL path: "classify" for /classify; "" is Home
    title: str  # in English: `t(page.title)` where it is shown
    icon: str
    script: str  # run by st.navigation
    fields: Callable[[], list[Field]] = _no_inputs  # what its link can say (read on each call: limits follow the environment)
    extras: tuple[str, ...] = field(default=())  # other link parameters the page reads itself

    @property
    def name(self) -> str:
        """The page's name in session state and slots ("home" for Home)."""
        return self.path or "home"


HOME = Page("", n_("Home"), ":material/home:", "pages/home.py")
PAGES: tuple[Page, ...] = (
    HOME,
    Page("classify", n_("Text classification"), ":material/label:", "pages/classify.py", classify_inputs.fields),
    Page("generate", n_("Text generation"), ":material/edit_note:", "pages/generate.py", generate_inputs.fields,
         generate_inputs.EXTRAS),
    Page("recognise", n_("Image recognition"), ":material/image_search:", "pages/recognise.py", recognise_inputs.fields),
    Page("attention", n_("Attention visualizer"), ":material/grid_on:", "pages/attention.py", attention_inputs.fields),
    Page("learn", n_("How it learns"), ":material/model_training:", "pages/learn.py", learn_inputs.fields,
         learn_inputs.EXTRAS),
)
BY_PATH: dict[str, Page] = {page.path: page for page in PAGES}
PATHS: tuple[str, ...] = tuple(BY_PATH)


def page_state(path: str) -> PageState:
    """The `PageState` of the page at `path`: its inputs and the link parameters it reads."""
    page = BY_PATH[path]
    return PageState(page.path, page.fields(), page.extras)
