"""Free text accepted from staff (names, addresses, notes, reasons, safety plans): normalised to
Unicode NFC, length-capped, and refused when it carries control or bidirectional-override characters
(which can hide or reorder what a reader sees, and which PostgreSQL refuses). Error messages name the
rule, never the value. Every service validates free text with `clean_text` / `CleanText`."""
from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Bidirectional embedding/override/isolate characters: can make a record display differently from
# what is stored (e.g. hide part of a name or a note from a reviewer).
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


class TextRuleError(ValueError):
    """Raised with a message that never quotes the input."""


def clean_text(value: str, *, max_length: int, multiline: bool = False, min_length: int = 1) -> str:
    if not isinstance(value, str):
        raise TextRuleError("must be text")
    value = unicodedata.normalize("NFC", value).strip()
    for ch in value:
        category = unicodedata.category(ch)
        if ch in ("\n", "\t") and multiline:
            continue
        if ch == "\r" and multiline:
            continue
        if category in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS:
            raise TextRuleError("contains control, unassigned or direction-override characters")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) < min_length:
        raise TextRuleError("must not be empty")
    if len(value) > max_length:
        raise TextRuleError(f"must be at most {max_length} characters")
    return value


def CleanText(max_length: int, *, multiline: bool = False, min_length: int = 1):  # noqa: N802 - a type
    """A pydantic string type: `note: CleanText(2000, multiline=True)`."""
    return Annotated[str, AfterValidator(
        lambda v: clean_text(v, max_length=max_length, multiline=multiline, min_length=min_length))]
