"""Spanish first, English one click away.

Every user-facing string is a gettext msgid (English) translated in
`locale/{es,en}/LC_MESSAGES/messages.po`. The catalogues are compiled in memory when the process
starts (Babel's read_po + write_mo), so no compiled .mo file is committed or can go stale; `pybabel
compile` produces the same result for tools that want files. One Jinja environment per locale
carries its translations (thread-safe, no per-request installs)."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

LOCALES = ("es", "en")
DEFAULT_LOCALE = "es"
LOCALE_DIR = Path(__file__).parent / "locale"
# Ecuador (mainland) has no daylight saving time; staff read clocks in local time.
LOCAL_TZ = ZoneInfo("America/Guayaquil")


def N_(message: str) -> str:
    """Marks a string for extraction; translated later, where the locale is known."""
    return message


@cache
def translations(locale: str) -> Translations:
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def tr(locale: str, message: str, **params) -> str:
    """The translation of `message` in `locale` (Python code's only way to a user-facing string,
    next to `ctx._()`; the extractor knows both)."""
    text = translations(pick(locale)).ugettext(message)
    return text % params if params else text


gettext = tr


def pick(locale: str | None) -> str:
    return locale if locale in LOCALES else DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        base = tag.split("-")[0].split("_")[0]
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def parse_time(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def fmt_datetime(value, locale: str) -> str:
    dt = parse_time(value)
    if dt is None:
        return "—"
    return format_datetime(dt, "d MMM y, HH:mm", tzinfo=LOCAL_TZ, locale=locale)


def fmt_date(value, locale: str) -> str:
    dt = parse_time(value)
    if dt is None:
        if isinstance(value, str) and value:
            return value
        return "—"
    return format_date(dt.astimezone(LOCAL_TZ), "d MMM y", locale=locale)


def fmt_number(value, locale: str) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    return format_decimal(value, locale=locale)


def fmt_percent(value, locale: str) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    return format_percent(value, locale=locale, format="#,##0.#%")


def fmt_remaining(value, locale: str, now: datetime | None = None) -> dict:
    """A clock for a deadline: {'text': 'in 5 h 10 min' / '2 h overdue', 'overdue': bool, 'soon': bool}."""
    dt = parse_time(value)
    if dt is None:
        return {"text": "—", "overdue": False, "soon": False, "seconds": None}
    now = now or datetime.now(UTC)
    seconds = int((dt - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        amount = tr(locale, "%(d)s d %(h)s h", d=days, h=hours)
    elif hours:
        amount = tr(locale, "%(h)s h %(m)s min", h=hours, m=minutes)
    else:
        amount = tr(locale, "%(m)s min", m=minutes)
    if seconds < 0:
        text = tr(locale, "%(amount)s overdue", amount=amount)
    else:
        text = tr(locale, "in %(amount)s", amount=amount)
    return {"text": text, "overdue": seconds < 0, "soon": 0 <= seconds <= 6 * 3600, "seconds": seconds}
