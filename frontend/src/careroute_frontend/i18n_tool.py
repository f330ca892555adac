"""Catalogue maintenance: `python -m careroute_frontend.i18n_tool update` extracts every message from
the templates and the Python code (Babel's extractors, the same keywords the code uses) and merges
them into locale/{es,en}/LC_MESSAGES/messages.po, keeping existing translations. English entries
default to their msgid; Spanish ones missing a translation are left empty, which the test suite
refuses. `check` lists what is missing in each language (exit status 1 if anything is)."""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).parent
LOCALES = ("es", "en")
METHOD_MAP = [("templates/**.html", "jinja2"), ("templates/**.svg", "jinja2"), ("**.py", "python")]
OPTIONS_MAP = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"},
               "templates/**.svg": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
# Python code translates with ctx._("..."), i18n.tr(locale, "...") and marks with N_/NC_;
# templates with _("...").
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "NC_": ((1, "c"), 2),
            "pgettext": ((1, "c"), 2), "tr": (2,)}


def extract() -> Catalog:
    catalog = Catalog(project="careroute-frontend", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        if filename.startswith(("i18n_tool.py",)):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return PACKAGE / "locale" / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="careroute-frontend", charset="utf-8")
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def update(seed: dict[str, dict[tuple[str | None, str], str]] | None = None) -> dict[str, int]:
    template = extract()
    missing = {}
    for locale in LOCALES:
        old = load(locale)
        new = Catalog(locale=locale, project="careroute-frontend", charset="utf-8")
        count = 0
        for message in template:
            if not message.id:
                continue
            previous = old.get(message.id, context=message.context)
            text = previous.string if previous is not None and previous.string else ""
            if not text and seed and (message.context, message.id) in seed.get(locale, {}):
                text = seed[locale][(message.context, message.id)]
            if not text and locale == "en" and isinstance(message.id, str):
                text = message.id
            if not text:
                count += 1
            new.add(message.id, text, message.locations, context=message.context,
                    auto_comments=message.auto_comments)
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fp:
            write_po(fp, new, width=100, omit_header=False, sort_output=True, include_lineno=False)
        missing[locale] = count
    return missing


def check() -> dict[str, list[str]]:
    template = extract()
    out: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalog = load(locale)
        out[locale] = []
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id, context=message.context)
            if found is None or not found.string:
                out[locale].append(f"{message.context + ' | ' if message.context else ''}{message.id}")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    command = argv[0] if argv else "check"
    if command == "update":
        missing = update()
        print("missing translations:", missing)
        return 0
    result = check()
    for locale, messages in result.items():
        for m in messages:
            print(f"{locale}: missing {m!r}")
    return 1 if any(result.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
