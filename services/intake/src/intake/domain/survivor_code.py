"""Pseudonymous survivor codes such as `TUL-2026-7QK4M2`: the registering office's short code, the
year, and six random characters (Crockford base32: no I, L, O, U). Nothing in it is derived from the
person, so the code can travel where her name must not."""
from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RE = re.compile(r"^[A-Z]{3}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")


def office_prefix(office: str, prefixes: dict[str, str]) -> str:
    """The office's configured three-letter code, else the first three letters of its last segment."""
    configured = prefixes.get(office)
    if configured and re.fullmatch(r"[A-Z]{3}", configured):
        return configured
    letters = re.sub(r"[^a-z]", "", office.rsplit("/", 1)[-1].lower()).upper()
    return (letters + "XXX")[:3]


def new_survivor_code(office: str, year: int, prefixes: dict[str, str]) -> str:
    suffix = "".join(secrets.choice(ALPHABET) for _ in range(6))
    return f"{office_prefix(office, prefixes)}-{year:04d}-{suffix}"
