"""Form handling: read what was typed (and keep it), check what the browser cannot, and put the
services' validation problems (`errors[].field`) next to the right field in the user's language."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from . import i18n
from .clients import ApiError
from .i18n import LOCAL_TZ, N_


class Form:
    """A submitted form as plain values: str for single fields, list[str] for multi-valued ones."""

    def __init__(self, data: dict[str, str | list[str]] | None = None) -> None:
        self.data: dict[str, str | list[str]] = dict(data or {})

    @classmethod
    async def read(cls, request, multi: tuple[str, ...] = ()) -> Form:
        raw = await request.form()
        data: dict[str, str | list[str]] = {}
        for key in raw:
            if key == "csrf_token":
                continue
            values = [v.strip() if isinstance(v, str) else "" for v in raw.getlist(key)]
            if key in multi or key.endswith("categories") or len(values) > 1:
                data[key] = [v for v in values if v]
            else:
                data[key] = values[0] if values else ""
        for key in multi:
            data.setdefault(key, [])
        return cls(data)

    def get(self, name: str, default: str = "") -> str:
        value = self.data.get(name, default)
        if isinstance(value, list):
            return value[0] if value else default
        return value if value is not None else default

    def getlist(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None or value == "":
            return []
        return value if isinstance(value, list) else [value]

    def checked(self, name: str) -> bool:
        return self.get(name) in ("1", "on", "true", "yes")


class Errors(dict):
    """field name -> message (already translated)."""

    def require(self, form: Form, name: str, locale: str, message: str | None = None) -> None:
        if not form.get(name):
            self[name] = message or i18n.tr(locale, "Enter or choose a value.")


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_local_datetime(value: str) -> datetime | None:
    """`datetime-local` input (Ecuador time) to an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def local_now_input() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def parse_int(value: str) -> int | None:
    try:
        return int(value) if value not in ("", None) else None
    except ValueError:
        return None


# The rules pydantic names in `errors[].code` (never the value), in the user's language.
RULE_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_long": N_("The text is too long."),
    "string_too_short": N_("The text is too short."),
    "string_pattern_mismatch": N_("The format is not valid."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "int_parsing": N_("Enter a whole number."),
    "greater_than_equal": N_("The number is too small."),
    "less_than_equal": N_("The number is too large."),
    "date_from_datetime_parsing": N_("Enter a valid date."),
    "date_parsing": N_("Enter a valid date."),
    "datetime_parsing": N_("Enter a valid date and time."),
    "time_parsing": N_("Enter a valid time."),
    "too_short": N_("Choose at least one option."),
    "too_long": N_("Too many options were chosen."),
    "value_error": N_("The value is not valid."),
    "extra_forbidden": N_("The value is not valid."),
}
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")


def field_name(api_field: str) -> str:
    """'body.profile.nationality' -> 'profile.nationality'; list indexes stay ('consent.sharing.0.categories')."""
    parts = [p for p in str(api_field).split(".") if p]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts)


def api_errors(exc: ApiError, locale: str, known_fields: set[str] | None = None) -> Errors:
    """The service's validation problem as form errors. A field the form does not show (or no
    field at all) becomes a form-level message, so nothing is silently lost."""
    errors = Errors()
    for item in exc.field_errors:
        name = field_name(item.get("field") or item.get("loc") or "")
        message = RULE_MESSAGES.get(str(item.get("code") or ""))
        text = i18n.tr(locale, message) if message else (item.get("message") or i18n.tr(locale, "The value is not valid."))
        target = _closest(name, known_fields) if known_fields is not None else name
        key = target or "_form"
        if key in errors:
            continue
        errors[key] = text if key != "_form" else (exc.detail or text)
    if not errors:
        errors["_form"] = exc.detail or i18n.tr(locale, "The request could not be completed.")
    return errors


def _closest(name: str, known: set[str]) -> str | None:
    """The most specific known field for an API path: 'incident.perpetrators.count' or its parents."""
    candidate = name
    while candidate:
        if candidate in known:
            return candidate
        # a list element's rule ('needs.2') belongs to the list field
        stripped = _INDEX.sub("", candidate)
        if stripped != candidate and stripped in known:
            return stripped
        if "." not in candidate:
            break
        candidate = candidate.rsplit(".", 1)[0]
    return None
