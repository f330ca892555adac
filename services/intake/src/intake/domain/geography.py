"""Places and nationalities as codes, never as free text.

Provinces and cantons use the codes of Ecuador's official political-administrative division (INEC
DPA): a province is two digits (`04` Carchi), a canton four digits starting with its province's code
(`0401` Tulcán). Codes make it impossible to slip a name or an address into a field that travels in
events and statistics. Nationalities are ISO 3166-1 alpha-2 codes (`XX`: stateless or unknown);
languages ISO 639 codes."""
from __future__ import annotations

import re
from functools import lru_cache

PROVINCES: dict[str, str] = {
    "01": "Azuay", "02": "Bolívar", "03": "Cañar", "04": "Carchi", "05": "Cotopaxi", "06": "Chimborazo",
    "07": "El Oro", "08": "Esmeraldas", "09": "Guayas", "10": "Imbabura", "11": "Loja", "12": "Los Ríos",
    "13": "Manabí", "14": "Morona Santiago", "15": "Napo", "16": "Pastaza", "17": "Pichincha",
    "18": "Tungurahua", "19": "Zamora Chinchipe", "20": "Galápagos", "21": "Sucumbíos", "22": "Orellana",
    "23": "Santo Domingo de los Tsáchilas", "24": "Santa Elena",
}

# Labels for the cantons where the care route works today; any canton code of a valid province is
# accepted (the full gazetteer belongs in the service directory, not in code).
CANTON_LABELS: dict[str, str] = {
    "0101": "Cuenca", "0401": "Tulcán", "0402": "Bolívar", "0403": "Espejo", "0404": "Mira", "0405": "Montúfar",
    "0406": "San Pedro de Huaca", "0701": "Machala", "0702": "Arenillas", "0707": "Huaquillas",
    "0801": "Esmeraldas", "0805": "San Lorenzo", "0901": "Guayaquil", "1001": "Ibarra", "1101": "Loja",
    "1701": "Quito", "2101": "Lago Agrio", "2102": "Gonzalo Pizarro", "2104": "Shushufindi",
}

PROVINCE_RE = re.compile(r"^[0-9]{2}$")
CANTON_RE = re.compile(r"^[0-9]{4}$")
NATIONALITY_RE = re.compile(r"^[A-Z]{2}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")

_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ", "AC", "CP", "DG", "EA", "IC", "TA", "CQ"}
STATELESS_OR_UNKNOWN = "XX"


def valid_province(code: str) -> bool:
    return bool(PROVINCE_RE.match(code)) and code in PROVINCES


def valid_canton(code: str, province: str | None) -> bool:
    """A canton code is its province's code plus a two-digit canton number (01-99)."""
    if not CANTON_RE.match(code) or code[2:] == "00":
        return False
    if code[:2] not in PROVINCES:
        return False
    return province is None or code[:2] == province


@lru_cache
def nationalities() -> dict[str, dict[str, str]]:
    from babel import Locale

    es, en = Locale("es").territories, Locale("en").territories
    codes = {c for c in en if len(c) == 2 and c.isalpha() and c.isupper() and c not in _NOT_COUNTRIES}
    out = {c: {"es": es.get(c, en[c]), "en": en[c]} for c in sorted(codes)}
    out[STATELESS_OR_UNKNOWN] = {"es": "Apátrida o desconocida", "en": "Stateless or unknown"}
    return out


def valid_nationality(code: str) -> bool:
    return bool(NATIONALITY_RE.match(code)) and code in nationalities()


@lru_cache
def languages() -> dict[str, dict[str, str]]:
    from babel import Locale

    es, en = Locale("es").languages, Locale("en").languages
    return {c: {"es": es.get(c, en[c]), "en": en[c]} for c in sorted(en) if LANGUAGE_RE.match(c)}


def valid_language(code: str) -> bool:
    return bool(LANGUAGE_RE.match(code)) and code in languages()
