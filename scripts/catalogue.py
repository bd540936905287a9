"""The message catalogues: find every message in the code, and bring each language's catalogue up to date.

A message is the English first argument of `t(...)`, `lazy(...)`, `n_(...)` or of raising one of the
dashboard's errors (`InputError("...", name=...)` and its kind). Babel extracts them from
app.py, pages/, ui/ and backend/; each language's `locales/<code>/LC_MESSAGES/dashboard.po`
keeps its translations, gains the new messages untranslated, and loses the ones no longer in the
code. Run after changing a message, then translate what is empty:

    .venv/bin/python scripts/catalogue.py          # update every catalogue, list what is untranslated
    .venv/bin/python scripts/catalogue.py --check  # change nothing; exit 1 if anything is untranslated
    .venv/bin/python scripts/catalogue.py --merge part.po ...  # also take the translations these files give
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.shared.language import DEFAULT, DOMAIN, LANGUAGES, LOCALES  # noqa: E402

SOURCES = ("app.py", "pages", "ui", "backend")
ERRORS = ("DashboardError", "InputError", "ModelUnavailableError", "EngineError", "BusyError", "JobStopped",
          "JobCancelled", "OverBudget", "DeckError", "RoomStoreError")
KEYWORDS = {"t": None, "n_": None, "lazy": None, **{name: None for name in ERRORS}}


def extracted() -> Catalog:
    """Every message in the code, with where it is written."""
    found = Catalog(domain=DOMAIN, project="how-ai-models-work", fuzzy=False)
    for source in SOURCES:
        path = ROOT / source
        files = [(path.parent, path.name)] if path.is_file() else [(path, None)]
        for directory, only in files:
            method_map = [(only or "**.py", "python")]
            for filename, lineno, message, comments, context in extract_from_dir(
                str(directory), method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
                strip_comment_tags=True,
            ):
                if only and filename != only:
                    continue
                if isinstance(message, tuple):
                    message = message[0]
                if not message or not isinstance(message, str):
                    continue
                where = str(Path(source if only else source, filename if not only else ""))
                found.add(message, locations=[(where.rstrip("/"), lineno)], auto_comments=comments, context=context)
    return found


def catalogue_path(code: str) -> Path:
    return LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(code: str) -> Catalog:
    path = catalogue_path(code)
    if not path.exists():
        return Catalog(locale=code, domain=DOMAIN, fuzzy=False)
    with path.open("rb") as file:
        return read_po(file, locale=code, domain=DOMAIN)


def untranslated(catalog: Catalog, template: Catalog) -> list[str]:
    return [m.id for m in template if m.id and (catalog.get(m.id) is None or not catalog.get(m.id).string
                                                or catalog.get(m.id).fuzzy)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a message is untranslated")
    parser.add_argument("--merge", nargs="*", default=[], type=Path,
                        help="PO files whose translations (of messages in the code) are taken over")
    args = parser.parse_args()
    template = extracted()
    missing_any = False
    for code in LANGUAGES:
        if code == DEFAULT:
            continue
        catalog = read(code)
        if not args.check:
            catalog.update(template, no_fuzzy_matching=True)
            for part in args.merge:
                with part.open("rb") as file:
                    for message in read_po(file, locale=code, domain=DOMAIN):
                        if message.id and message.string and message.id in catalog and not message.fuzzy:
                            catalog[message.id].string = message.string
                            catalog[message.id].flags.discard("fuzzy")
            catalog.obsolete.clear()
            catalogue_path(code).parent.mkdir(parents=True, exist_ok=True)
            with catalogue_path(code).open("wb") as file:
                write_po(file, catalog, width=100, sort_output=False, include_previous=False)
        missing = untranslated(catalog, template)
        missing_any |= bool(missing)
        print(f"{code}: {len(template) - len(missing)} of {len(template)} messages translated")
        for message in missing[:50]:
            print(f"  untranslated: {message[:100]!r}")
    return 1 if (args.check and missing_any) else 0


if __name__ == "__main__":
    sys.exit(main())
