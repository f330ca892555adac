"""Ecuador's political-administrative division (INEC DPA codes), as intake's events carry it:
province = 2 digits, canton = 4 digits whose first two are its province. Only the places the
directory needs are named here; any well-formed code is accepted."""
from __future__ import annotations

import re

PROVINCES = {"01": "Azuay", "04": "Carchi", "07": "El Oro", "09": "Guayas", "10": "Imbabura", "17": "Pichincha",
             "21": "Sucumbíos"}
CANTONS = {"0101": "Cuenca", "0401": "Tulcán", "0707": "Huaquillas", "0901": "Guayaquil", "1001": "Ibarra",
           "1701": "Quito", "2101": "Lago Agrio"}
_CANTON = re.compile(r"^\d{4}$")


def is_canton_code(value: str | None) -> bool:
    return bool(value and _CANTON.match(value))


def province_of(canton_code: str) -> str:
    return canton_code[:2]


def canton_name(code: str | None) -> str | None:
    return CANTONS.get(code or "")


def province_name(code: str | None) -> str | None:
    return PROVINCES.get(code or "")
