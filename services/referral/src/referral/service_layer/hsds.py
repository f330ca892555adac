"""Open Referral HSDS 3.0 export of the directory: a JSON service list (each service compiled with
its organization, service_at_locations, schedules, languages, phones, contacts, cost options and
taxonomy attributes) and the tabular form (one CSV per HSDS table, bundled with a Frictionless
datapackage.json in a zip). Monolingual like HSDS itself: `lang` picks Spanish or English.
Confidential locations (shelters) are exported without address or coordinates."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from datetime import datetime

from ..domain.directory import WEEKDAYS
from ..domain.vocabulary import LABELS

HSDS_VERSION = "3.0"
TAXONOMY_ID = "5c0a0d7e-2d1f-5b1e-9c1e-6b9a8f0c0a01"
_NS = uuid.UUID("3b2a1a5e-0e0f-4c55-9d65-8f1f3c0f6a77")
STATUS = {"available": "active", "at_capacity": "active", "suspended": "temporarily closed"}
OFFSET = "-05:00"  # America/Guayaquil has no daylight saving time


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def term_id(service_type: str) -> str:
    return _id("taxonomy_term", service_type)


def _pick(row: dict, field: str, lang: str):
    return row.get(f"{field}_{lang}") or row.get(f"{field}_es")


def tables(orgs: dict, svcs: list[dict], *, lang: str = "es") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name in (
        "organization", "service", "location", "address", "service_at_location", "schedule", "phone", "contact",
        "language", "cost_option", "taxonomy", "taxonomy_term", "attribute")}
    out["taxonomy"].append({"id": TAXONOMY_ID, "name": "Care Route service types",
                            "description": "GBV Care Route service taxonomy (Ecuador)", "uri": "", "version": "1"})
    for code, label in LABELS["service_type"].items():
        out["taxonomy_term"].append({"id": term_id(code), "code": code, "name": label[lang], "description": label[lang],
                                     "parent_id": "", "taxonomy": "careroute", "language": lang,
                                     "taxonomy_id": TAXONOMY_ID, "term_uri": ""})
    for org in orgs.values():
        out["organization"].append({"id": org["id"], "name": _pick(org, "name", lang),
                                    "alternate_name": org["alternate_name"] or "",
                                    "description": _pick(org, "description", lang) or "", "email": org["email"] or "",
                                    "website": org["website"] or "", "legal_status": org["kind"],
                                    "uri": f"urn:careroute:group:{org['group_path']}", "parent_organization_id": ""})
        if org["phone"]:
            out["phone"].append({"id": _id("phone", org["id"]), "organization_id": org["id"], "service_id": "",
                                 "location_id": "", "contact_id": "", "number": org["phone"], "type": "voice",
                                 "description": ""})
        for c in org.get("contacts", []):
            _contact(out, c, organization_id=org["id"], service_id="")
    seen_locations: set[str] = set()
    for svc in svcs:
        sid = svc["id"]
        eligibility = _pick(svc, "eligibility_description", lang) or ""
        out["service"].append({
            "id": sid, "organization_id": svc["organisation_id"], "name": _pick(svc, "name", lang),
            "alternate_name": "", "description": _pick(svc, "description", lang) or "", "email": svc["email"] or "",
            "status": STATUS[svc["status"]],
            "alert": ("Sin cupo" if lang == "es" else "At capacity") if svc["status"] == "at_capacity" else "",
            "application_process": _pick(svc, "application_process", lang) or "",
            "fees_description": _pick(svc, "fees_description", lang) or "",
            "eligibility_description": eligibility,
            "minimum_age": svc["min_age"] if svc["min_age"] is not None else "",
            "maximum_age": svc["max_age"] if svc["max_age"] is not None else "",
            "last_modified": svc["updated_at"].isoformat(),
        })
        out["attribute"].append({"id": _id("attribute", sid, "type"), "link_id": sid, "link_type": "service_type",
                                 "link_entity": "service", "taxonomy_term_id": term_id(svc["service_type"]),
                                 "value": svc["service_type"], "label": ""})
        out["attribute"].append({"id": _id("attribute", sid, "referrals"), "link_id": sid,
                                 "link_type": "accepts_referrals", "link_entity": "service",
                                 "taxonomy_term_id": "", "value": str(svc["accepts_referrals"]).lower(), "label": ""})
        for attr, values in (("sex", svc["sexes"]), ("nationality", svc["nationalities"]),
                             ("mobility_status", svc["mobility_statuses"])):
            for v in values:
                out["attribute"].append({"id": _id("attribute", sid, attr, v), "link_id": sid,
                                         "link_type": f"eligibility:{attr}", "link_entity": "service",
                                         "taxonomy_term_id": "", "value": v, "label": ""})
        out["cost_option"].append({"id": _id("cost", sid), "service_id": sid, "option": svc["cost"],
                                   "amount": 0 if svc["cost"] == "free" else "", "currency": "USD",
                                   "amount_description": _pick(svc, "fees_description", lang) or ""})
        for code in svc["languages"]:
            out["language"].append({"id": _id("language", sid, code), "service_id": sid, "location_id": "",
                                    "phone_id": "", "name": "", "code": code, "note": ""})
        if svc["phone"]:
            out["phone"].append({"id": _id("phone", sid), "organization_id": "", "service_id": sid, "location_id": "",
                                 "contact_id": "", "number": svc["phone"], "type": "voice", "description": ""})
        for c in svc["contacts"]:
            _contact(out, c, organization_id="", service_id=sid)
        for h in _schedule_rows(svc):
            out["schedule"].append(h)
        for loc in svc["locations"]:
            confidential = loc["confidential"]
            if loc["id"] not in seen_locations:
                seen_locations.add(loc["id"])
                out["location"].append({"id": loc["id"], "location_type": "physical", "organization_id":
                                        svc["organisation_id"], "name": loc["name"], "description": "",
                                        "latitude": "" if confidential or loc["latitude"] is None else loc["latitude"],
                                        "longitude": "" if confidential or loc["longitude"] is None else loc["longitude"]})
                out["address"].append({"id": _id("address", loc["id"]), "location_id": loc["id"],
                                       "address_1": ("" if confidential else loc["address"] or ""),
                                       "city": loc["canton"], "region": "", "state_province": loc["province"],
                                       "postal_code": "", "country": "EC", "address_type": "physical"})
            out["service_at_location"].append({"id": loc["sal_id"], "service_id": sid, "location_id": loc["id"],
                                               "description": ""})
    return out


def _contact(out: dict, c: dict, *, organization_id: str, service_id: str) -> None:
    out["contact"].append({"id": c["id"], "organization_id": organization_id, "service_id": service_id,
                           "name": c["name"], "title": c["title"] or "", "department": c["department"] or "",
                           "email": c["email"] or ""})
    if c["phone"]:
        out["phone"].append({"id": _id("phone", c["id"]), "organization_id": "", "service_id": "", "location_id": "",
                             "contact_id": c["id"], "number": c["phone"], "type": "voice", "description": ""})


def _schedule_rows(svc: dict) -> list[dict]:
    if svc["open_24_7"]:
        return [{"id": _id("schedule", svc["id"], "24/7"), "service_id": svc["id"], "location_id": "",
                 "freq": "WEEKLY", "byday": ",".join(WEEKDAYS), "opens_at": "00:00" + OFFSET, "closes_at": "23:59" + OFFSET,
                 "timezone": -5, "description": "24/7"}]
    return [{"id": h["id"], "service_id": svc["id"], "location_id": "", "freq": "WEEKLY", "byday": WEEKDAYS[h["weekday"]],
             "opens_at": h["opens_at"].strftime("%H:%M") + OFFSET, "closes_at": h["closes_at"].strftime("%H:%M") + OFFSET,
             "timezone": -5, "description": ""} for h in svc["schedules"]]


def compiled_services(orgs: dict, svcs: list[dict], *, lang: str = "es") -> dict:
    """HSDS 3.0 API shape: a paginated service list whose contents are compiled services."""
    t = tables(orgs, svcs, lang=lang)
    by = lambda table, key: _group(t[table], key)
    locs = {row["id"]: row for row in t["location"]}
    addresses = by("address", "location_id")
    schedules = by("schedule", "service_id")
    languages = by("language", "service_id")
    phones = by("phone", "service_id")
    contacts = by("contact", "service_id")
    costs = by("cost_option", "service_id")
    attributes = by("attribute", "link_id")
    sals = by("service_at_location", "service_id")
    orgs_by_id = {row["id"]: row for row in t["organization"]}
    terms = {row["id"]: row for row in t["taxonomy_term"]}
    contents = []
    for svc in t["service"]:
        sid = svc["id"]
        attrs = []
        for a in attributes.get(sid, []):
            a = dict(a)
            if a["taxonomy_term_id"]:
                a["taxonomy_term"] = terms[a["taxonomy_term_id"]]
            attrs.append(a)
        contents.append({
            **svc, "organization": orgs_by_id.get(svc["organization_id"]),
            "service_at_locations": [{**sal, "location": {**locs[sal["location_id"]],
                                                          "addresses": addresses.get(sal["location_id"], [])}}
                                     for sal in sals.get(sid, [])],
            "schedules": schedules.get(sid, []), "languages": languages.get(sid, []), "phones": phones.get(sid, []),
            "contacts": contacts.get(sid, []), "cost_options": costs.get(sid, []), "attributes": attrs,
        })
    return {"hsds_version": HSDS_VERSION, "total_items": len(contents), "total_pages": 1, "page_number": 1,
            "size": len(contents), "first_page": True, "last_page": True, "empty": not contents,
            "contents": contents}


def _group(rows: list[dict], key: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        if row.get(key):
            out.setdefault(row[key], []).append(row)
    return out


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value):
    # Spreadsheet formula injection: a directory field must not start a formula when opened.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _numberlike(value):
        return "'" + value
    return value


_PHONE_OR_NUMBER = re.compile(r"^[+-][\d\s().-]+$")


def _numberlike(value: str) -> bool:
    return bool(_PHONE_OR_NUMBER.match(value))


def datapackage_zip(orgs: dict, svcs: list[dict], *, lang: str, now: datetime) -> bytes:
    t = tables(orgs, svcs, lang=lang)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        resources = []
        for name, rows in t.items():
            z.writestr(f"{name}.csv", to_csv(rows))
            resources.append({"name": name, "path": f"{name}.csv", "format": "csv", "mediatype": "text/csv",
                              "encoding": "utf-8"})
        z.writestr("datapackage.json", json.dumps({
            "name": "careroute-directory", "title": "Care Route service directory (HSDS 3.0)",
            "profile": "tabular-data-package", "version": HSDS_VERSION, "created": now.isoformat(),
            "resources": resources}, indent=1, ensure_ascii=False))
    return buffer.getvalue()
