"""Places and nationalities for the forms. Provinces and cantons are Ecuador's official codes (INEC
DPA), as the intake service stores them; names are proper nouns (not translated). Nationalities
are ISO 3166-1 codes labelled by Babel in the user's language, the most frequent ones first."""
from __future__ import annotations

from functools import lru_cache

PROVINCES: dict[str, str] = {
    "01": "Azuay", "02": "Bolívar", "03": "Cañar", "04": "Carchi", "05": "Cotopaxi", "06": "Chimborazo",
    "07": "El Oro", "08": "Esmeraldas", "09": "Guayas", "10": "Imbabura", "11": "Loja", "12": "Los Ríos",
    "13": "Manabí", "14": "Morona Santiago", "15": "Napo", "16": "Pastaza", "17": "Pichincha",
    "18": "Tungurahua", "19": "Zamora Chinchipe", "20": "Galápagos", "21": "Sucumbíos", "22": "Orellana",
    "23": "Santo Domingo de los Tsáchilas", "24": "Santa Elena",
}

CANTONS: dict[str, str] = {
    "0101": "Cuenca", "0401": "Tulcán", "0402": "Bolívar", "0403": "Espejo", "0404": "Mira", "0405": "Montúfar",
    "0406": "San Pedro de Huaca", "0701": "Machala", "0702": "Arenillas", "0707": "Huaquillas",
    "0801": "Esmeraldas", "0805": "San Lorenzo", "0901": "Guayaquil", "1001": "Ibarra", "1101": "Loja",
    "1701": "Quito", "2101": "Lago Agrio", "2102": "Gonzalo Pizarro", "2104": "Shushufindi",
}

FREQUENT_NATIONALITIES = ("VE", "CO", "EC", "PE", "CU", "HT", "XX")
_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ", "AC", "CP", "DG", "EA", "IC", "TA", "CQ"}


def province_options() -> list[tuple[str, str]]:
    return sorted(PROVINCES.items(), key=lambda kv: kv[1])


def canton_options() -> list[tuple[str, str]]:
    return [(code, f"{name} ({PROVINCES[code[:2]]})") for code, name in sorted(CANTONS.items(), key=lambda kv: kv[1])]


def canton_name(code: str | None) -> str:
    if not code:
        return "—"
    return CANTONS.get(code, code)


def province_name(code: str | None) -> str:
    if not code:
        return "—"
    return PROVINCES.get(code, code)


def province_of_canton(code: str | None) -> str | None:
    return code[:2] if code and len(code) == 4 and code[:2] in PROVINCES else None


@lru_cache(maxsize=4)
def nationality_options(locale: str) -> list[tuple[str, str]]:
    from babel import Locale

    names = Locale(locale).territories
    en = Locale("en").territories
    codes = sorted(c for c in en if len(c) == 2 and c.isalpha() and c.isupper() and c not in _NOT_COUNTRIES)
    from .i18n import tr

    stateless = tr(locale, "Stateless or unknown")
    label = {c: names.get(c, en[c]) for c in codes}
    label["XX"] = stateless
    first = [(c, label[c]) for c in FREQUENT_NATIONALITIES]
    rest = sorted(((c, label[c]) for c in codes if c not in FREQUENT_NATIONALITIES), key=lambda kv: kv[1])
    return first + rest


def nationality_name(code: str | None, locale: str) -> str:
    if not code:
        return "—"
    return dict(nationality_options(locale)).get(code, code)


@lru_cache(maxsize=4)
def language_options(locale: str) -> list[tuple[str, str]]:
    from babel import Locale

    names = Locale(locale).languages
    frequent = ("es", "en", "qu", "ht", "fr", "pt", "ar")
    return [(c, names.get(c, c)) for c in frequent]
