"""E-mail (and inbox title) rendering with Jinja2, in Spanish or English by the recipient's locale.

Each kind has one template per locale, `email/<locale>/<kind>.j2`, defining the blocks `subject` and
`summary`; the locale's layouts `_layout.txt.j2` and `_layout.html.j2` wrap them into the plain-text and
HTML parts. The same blocks are rendered twice: once in an autoescaping environment for HTML, once
without for plain text. A kind missing in the recipient's locale falls back to the other language, and
says so in the logs (`missing_locale`). The context holds codes, labels, a reference, a deadline and a
link only — templates cannot reach anything else."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from ..domain.kinds import LABELS, label

log = logging.getLogger(__name__)
LOCALES = ("es", "en")


class TemplateMissing(LookupError):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    locale: str          # the language actually used (differs from the wanted one on fallback)


@dataclass(frozen=True)
class NoticeView:
    """What a template may show about a notification."""
    kind: str
    reference: str
    link: str
    priority: str | None = None
    mandatory: bool = False
    deadline: datetime | None = None
    params: dict[str, str] | None = None


class Renderer:
    def __init__(self, *, overrides_dir: str | None = None, timezone: str = "America/Guayaquil") -> None:
        loaders: list[BaseLoader] = [FileSystemLoader(overrides_dir)] if overrides_dir else []
        loaders.append(PackageLoader("notify", "templates"))
        loader = ChoiceLoader(loaders)
        common = dict(loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=False)
        self.html_env = SandboxedEnvironment(autoescape=True, **common)
        self.text_env = SandboxedEnvironment(autoescape=False, **common)
        self.tz = ZoneInfo(timezone)

    # -- template lookup with fallback ----------------------------------------------------------
    def _locale_for(self, kind: str, locale: str) -> str:
        wanted = locale if locale in LOCALES else "es"
        for candidate in (wanted, *[lc for lc in LOCALES if lc != wanted]):
            try:
                self.text_env.get_template(f"email/{candidate}/{kind}.j2")
            except TemplateNotFound:
                continue
            if candidate != wanted:
                log.warning("template missing in the recipient's language; falling back",
                            extra={"missing_locale": wanted, "locale": candidate, "kind": kind})
            return candidate
        raise TemplateMissing(kind)

    def context(self, view: NoticeView, locale: str) -> dict[str, Any]:
        params = dict(view.params or {})
        deadline_local = (format_datetime(view.deadline, "d MMM y, HH:mm", tzinfo=self.tz, locale=locale)
                          if view.deadline else None)
        return {
            "locale": locale, "kind": view.kind, "reference": view.reference, "link": view.link,
            "kind_label": label("kind", view.kind, locale),
            "priority": view.priority, "priority_label": label("priority", view.priority, locale),
            "emergency": view.priority == "emergency", "mandatory": view.mandatory,
            "deadline": deadline_local,
            "deadline_utc": view.deadline.isoformat() if view.deadline else None,
            "service_type_label": label("service_type", params.get("service_type"), locale),
            "reason_label": label("reason_code", params.get("reason_code"), locale),
            "outcome_label": label("outcome_code", params.get("outcome_code"), locale),
            "params": params,
            "labels": {vocab: {code: names.get(locale, code) for code, names in entries.items()}
                       for vocab, entries in LABELS.items()},
        }

    def _block(self, env: SandboxedEnvironment, name: str, block: str, ctx: dict[str, Any]) -> str:
        template = env.get_template(name)
        if block not in template.blocks:
            return ""
        return "".join(template.blocks[block](template.new_context(ctx))).strip()

    def subject(self, view: NoticeView, locale: str) -> str:
        used = self._locale_for(view.kind, locale)
        ctx = self.context(view, used)
        return " ".join(self._block(self.text_env, f"email/{used}/{view.kind}.j2", "subject", ctx).split())

    def render(self, view: NoticeView, locale: str) -> Rendered:
        used = self._locale_for(view.kind, locale)
        ctx = self.context(view, used)
        name = f"email/{used}/{view.kind}.j2"
        subject = " ".join(self._block(self.text_env, name, "subject", ctx).split())
        text_summary = self._block(self.text_env, name, "summary", ctx)
        html_summary = Markup(self._block(self.html_env, name, "summary", ctx))
        text = self.text_env.get_template(f"email/{used}/_layout.txt.j2").render(
            **ctx, subject=subject, summary=text_summary)
        html = self.html_env.get_template(f"email/{used}/_layout.html.j2").render(
            **ctx, subject=subject, summary=html_summary)
        return Rendered(subject=subject, text=text.strip() + "\n", html=html, locale=used)


def packaged_templates() -> Path:
    return Path(__file__).resolve().parents[1] / "templates"
