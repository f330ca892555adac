"""Possible duplicates without comparing identities in the clear.

The same survivor registered at two offices is found by keyed hashes (HMAC-SHA256 with a secret from
settings) of normalised identity fields: names with the date of birth, and the document separately.
Without the secret the digests cannot be tested against guessed names; the flag that results carries
case ids and offices only."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date

from .vocabulary import DuplicateMatch

VERSION = "v1"


def normalise(text: str) -> str:
    """NFKD, accents removed, case folded, everything but letters and digits dropped.
    'María-José  PÉREZ' and 'maria jose perez' normalise alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def name_tokens(*names: str | None) -> list[str]:
    tokens = []
    for name in names:
        for token in (name or "").replace("-", " ").split():
            norm = normalise(token)
            if norm:
                tokens.append(norm)
    return sorted(tokens)  # order-insensitive: given and family names are often swapped


def fingerprints(key: bytes, *, given_names: str | None, family_names: str | None, date_of_birth: date | None,
                 document_type: str | None, document_number: str | None) -> dict[DuplicateMatch, str]:
    """Digests for whatever identifying combination is complete; none for an anonymous survivor."""
    out: dict[DuplicateMatch, str] = {}
    tokens = name_tokens(given_names, family_names)
    if tokens and date_of_birth is not None:
        message = "|".join([VERSION, "name_dob", " ".join(tokens), date_of_birth.isoformat()])
        out[DuplicateMatch.NAME_AND_BIRTH_DATE] = _hmac(key, message)
    if document_type and document_number:
        number = normalise(document_number)
        if number:
            out[DuplicateMatch.DOCUMENT] = _hmac(key, "|".join([VERSION, "document", str(document_type), number]))
    return out


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
