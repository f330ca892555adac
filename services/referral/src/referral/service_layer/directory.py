"""Service directory use cases: manage organisations and services (directory-admins), search
(staff), export in Open Referral HSDS form. Every change emits a `directory.*` event."""
from __future__ import annotations

import uuid
from datetime import datetime, time

from careroute_platform.http import etag
from careroute_platform.problems import Problem
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..adapters.orm import contacts, locations, organisations, schedules, service_at_location, services
from ..domain.directory import WEEKDAYS, OpeningHours, is_open, normalise_place
from ..domain.eligibility import CaseProfile, Eligibility, check
from ..domain.places import province_of
from ..domain.vocabulary import LABELS, OrganisationStatus, ServiceStatus
from .events import directory_event


def _detail(es: str, en: str) -> dict:
    return {"es": es, "en": en}


def _bi(es, en) -> dict | None:
    if es is None and en is None:
        return None
    return {"es": es, "en": en}


# -- loading ------------------------------------------------------------------------------------
def load_directory(session: Session, *, service_ids: list[str] | None = None,
                   organisation_ids: list[str] | None = None) -> tuple[dict, list[dict]]:
    """Organisations by id, and services with everything attached (HSDS-shaped internally)."""
    org_query = select(organisations)
    if organisation_ids is not None:
        org_query = org_query.where(organisations.c.id.in_(organisation_ids))
    orgs = {r.id: dict(r._mapping) for r in session.execute(org_query).all()}
    svc_query = select(services).order_by(services.c.service_type, services.c.name_es, services.c.id)
    if service_ids is not None:
        svc_query = svc_query.where(services.c.id.in_(service_ids))
    if organisation_ids is not None:
        svc_query = svc_query.where(services.c.organisation_id.in_(organisation_ids))
    svc_rows = [dict(r._mapping) for r in session.execute(svc_query).all()]
    ids = [s["id"] for s in svc_rows]
    locs: dict[str, list[dict]] = {i: [] for i in ids}
    hours: dict[str, list[dict]] = {i: [] for i in ids}
    svc_contacts: dict[str, list[dict]] = {i: [] for i in ids}
    if ids:
        for r in session.execute(select(service_at_location.c.service_id, service_at_location.c.id.label("sal_id"),
                                        locations).join(locations, locations.c.id == service_at_location.c.location_id)
                                 .where(service_at_location.c.service_id.in_(ids)).order_by(locations.c.name)).all():
            locs[r.service_id].append(dict(r._mapping))
        for r in session.execute(select(schedules).where(schedules.c.service_id.in_(ids))
                                 .order_by(schedules.c.weekday, schedules.c.opens_at)).all():
            hours[r.service_id].append(dict(r._mapping))
        for r in session.execute(select(contacts).where(contacts.c.service_id.in_(ids)).order_by(contacts.c.name)).all():
            svc_contacts[r.service_id].append(dict(r._mapping))
    org_contacts: dict[str, list[dict]] = {i: [] for i in orgs}
    if orgs:
        for r in session.execute(select(contacts).where(contacts.c.organisation_id.in_(list(orgs)),
                                                        contacts.c.service_id.is_(None)).order_by(contacts.c.name)).all():
            org_contacts[r.organisation_id].append(dict(r._mapping))
    for org_id, org in orgs.items():
        org["contacts"] = org_contacts.get(org_id, [])
    for svc in svc_rows:
        svc["locations"] = locs[svc["id"]]
        svc["schedules"] = hours[svc["id"]]
        svc["contacts"] = svc_contacts[svc["id"]]
        svc["organisation"] = orgs.get(svc["organisation_id"])
    return orgs, svc_rows


def opening_hours(svc: dict) -> list[OpeningHours]:
    return [OpeningHours(h["weekday"], h["opens_at"], h["closes_at"]) for h in svc["schedules"]]


def _contact_view(c: dict) -> dict:
    return {"id": c["id"], "name": c["name"], "title": c["title"], "department": c["department"],
            "email": c["email"], "phone": c["phone"]}


def location_view(loc: dict, *, reveal: bool) -> dict:
    hidden = loc["confidential"] and not reveal
    return {"id": loc["id"], "name": loc["name"], "province": loc["province"], "canton": loc["canton"],
            "province_code": loc["province_code"], "canton_code": loc["canton_code"],
            "address": None if hidden else loc["address"],
            "latitude": None if hidden else loc["latitude"], "longitude": None if hidden else loc["longitude"],
            "confidential": loc["confidential"]}


def organisation_view(org: dict) -> dict:
    return {"id": org["id"], "group_path": org["group_path"], "kind": org["kind"],
            "name": {"es": org["name_es"], "en": org["name_en"]}, "alternate_name": org["alternate_name"],
            "description": {"es": org["description_es"], "en": org["description_en"]},
            "email": org["email"], "phone": org["phone"], "website": org["website"], "status": org["status"],
            "contacts": [_contact_view(c) for c in org.get("contacts", [])],
            "version": org["version"], "etag": etag(org["version"]), "updated_at": org["updated_at"].isoformat()}


def service_view(svc: dict, *, now: datetime, reveal_confidential: bool = False) -> dict:
    org = svc["organisation"]
    return {
        "id": svc["id"],
        "organisation": {"id": org["id"], "group_path": org["group_path"], "kind": org["kind"],
                         "name": {"es": org["name_es"], "en": org["name_en"]}, "status": org["status"]},
        "service_type": svc["service_type"],
        "service_type_label": LABELS["service_type"][svc["service_type"]],
        "name": {"es": svc["name_es"], "en": svc["name_en"]},
        "description": {"es": svc["description_es"], "en": svc["description_en"]},
        "application_process": _bi(svc["application_process_es"], svc["application_process_en"]),
        "status": svc["status"],
        "accepts_referrals": svc["accepts_referrals"],
        "languages": list(svc["languages"]),
        "cost": {"kind": svc["cost"], "description": _bi(svc["fees_description_es"], svc["fees_description_en"])},
        "eligibility": {"min_age": svc["min_age"], "max_age": svc["max_age"], "sexes": list(svc["sexes"]),
                        "nationalities": list(svc["nationalities"]), "mobility_statuses": list(svc["mobility_statuses"]),
                        "description": _bi(svc["eligibility_description_es"], svc["eligibility_description_en"])},
        "hours": {"timezone": "America/Guayaquil", "open_24_7": svc["open_24_7"],
                  "weekly": [{"weekday": h["weekday"], "day": WEEKDAYS[h["weekday"]],
                              "opens_at": h["opens_at"].strftime("%H:%M"), "closes_at": h["closes_at"].strftime("%H:%M")}
                             for h in svc["schedules"]]},
        "open_now": is_open(opening_hours(svc), now, open_24_7=svc["open_24_7"]),
        "locations": [location_view(loc, reveal=reveal_confidential) for loc in svc["locations"]],
        "contacts": [_contact_view(c) for c in svc["contacts"]],
        "email": svc["email"], "phone": svc["phone"],
        "version": svc["version"], "etag": etag(svc["version"]), "updated_at": svc["updated_at"].isoformat(),
    }


def referable(svc: dict) -> bool:
    return (svc["status"] == ServiceStatus.AVAILABLE and svc["accepts_referrals"]
            and svc["organisation"]["status"] == OrganisationStatus.ACTIVE)


def available_in_canton(session: Session, service_type: str, canton_code: str) -> bool:
    """Is there an available, referable service of this type in the canton? (unmet-needs figure)"""
    found = session.execute(
        select(services.c.id)
        .join(organisations, organisations.c.id == services.c.organisation_id)
        .join(service_at_location, service_at_location.c.service_id == services.c.id)
        .join(locations, locations.c.id == service_at_location.c.location_id)
        .where(services.c.service_type == service_type, services.c.status == ServiceStatus.AVAILABLE.value,
               services.c.accepts_referrals.is_(True), organisations.c.status == OrganisationStatus.ACTIVE.value,
               locations.c.canton_code == canton_code).limit(1)).first()
    return found is not None


# -- search -------------------------------------------------------------------------------------
def search_services(session: Session, *, now: datetime, service_type: str | None = None, province: str | None = None,
                    canton: str | None = None, open_at: datetime | None = None, open_now: bool = False,
                    case=None, include_ineligible: bool = False, referable_only: bool = False,
                    language: str | None = None, organisation_kind: str | None = None, q: str | None = None) -> list[dict]:
    _, svcs = load_directory(session)
    canton_key, province_key = normalise_place(canton), normalise_place(province)
    # a place is asked for by INEC code (as cases carry it) or by name
    q_key = normalise_place(q)
    moment = open_at or (now if open_now else None)
    profile = CaseProfile(case.age_band, case.sex, case.nationality, case.mobility_status) if case is not None else None
    results = []
    for svc in svcs:
        if service_type and svc["service_type"] != service_type:
            continue
        if canton_key and not any(canton_key in (loc["canton_key"], loc["canton_code"]) for loc in svc["locations"]):
            continue
        if province_key and not any(province_key in (normalise_place(loc["province"]), loc["province_code"])
                                    for loc in svc["locations"]):
            continue
        if moment is not None and not is_open(opening_hours(svc), moment, open_24_7=svc["open_24_7"]):
            continue
        if referable_only and not referable(svc):
            continue
        if language and language.lower() not in [lang.lower() for lang in svc["languages"]]:
            continue
        if organisation_kind and svc["organisation"]["kind"] != organisation_kind:
            continue
        if q_key and q_key not in normalise_place(" ".join([svc["name_es"], svc["name_en"], svc["organisation"]["name_es"],
                                                              svc["organisation"]["name_en"]])):
            continue
        view = service_view(svc, now=now)
        if profile is not None:
            result = check(Eligibility.of(min_age=svc["min_age"], max_age=svc["max_age"], sexes=svc["sexes"],
                                          nationalities=svc["nationalities"],
                                          mobility_statuses=svc["mobility_statuses"]), profile)
            if not result.allowed and not include_ineligible:
                continue
            view["eligibility_for_case"] = result.as_dict()
        results.append(view)
    # Referable first, then in the case's canton, then by name.
    results.sort(key=lambda v: (v["status"] != "available" or not v["accepts_referrals"], v["name"]["es"]))
    return results


# -- writes -------------------------------------------------------------------------------------
def _org_row(body: dict) -> dict:
    row = {}
    for key in ("group_path", "alternate_name", "email", "phone", "website", "status"):
        if key in body:
            row[key] = body[key]
    if "name" in body:
        row["name_es"], row["name_en"] = body["name"]["es"], body["name"]["en"]
    if "description" in body:
        row["description_es"], row["description_en"] = body["description"]["es"], body["description"]["en"]
    if "group_path" in body:
        row["kind"] = body["group_path"].split("/")[1]
    return row


def _replace_contacts(session: Session, *, organisation_id: str | None, service_id: str | None, items: list[dict]) -> None:
    if service_id:
        session.execute(delete(contacts).where(contacts.c.service_id == service_id))
    else:
        session.execute(delete(contacts).where(contacts.c.organisation_id == organisation_id,
                                               contacts.c.service_id.is_(None)))
    for c in items:
        session.execute(insert(contacts).values(id=c.get("id") or str(uuid.uuid4()), organisation_id=organisation_id,
                                                service_id=service_id, name=c["name"], title=c.get("title"),
                                                department=c.get("department"), email=c.get("email"),
                                                phone=c.get("phone")))


def _org_event(org: dict, change: str, now: datetime):
    return directory_event("directory.organisation_changed", {
        "organisation_id": org["id"], "organisation": org["group_path"], "kind": org["kind"], "status": org["status"],
        "change": change, "version": org["version"], "occurred_at": now}, key=org["id"])


def _service_event(svc: dict, org: dict, cantons: list[str], change: str, now: datetime):
    return directory_event("directory.service_changed", {
        "service_id": svc["id"], "organisation_id": org["id"], "organisation": org["group_path"],
        "service_type": svc["service_type"], "status": svc["status"], "accepts_referrals": svc["accepts_referrals"],
        "cantons": sorted(set(cantons)), "change": change, "version": svc["version"], "occurred_at": now},
        key=svc["id"])


def create_organisation(session: Session, body: dict, *, now: datetime, organisation_id: str | None = None) -> tuple[dict, object]:
    if session.execute(select(organisations.c.id).where(organisations.c.group_path == body["group_path"])).first():
        raise Problem(409, "conflict", detail=_detail("Ya existe una organización con ese grupo.",
                                                      "An organisation with that group already exists."))
    org_id = organisation_id or str(uuid.uuid4())
    session.execute(insert(organisations).values(id=org_id, **_org_row(body), version=1, created_at=now, updated_at=now))
    _replace_contacts(session, organisation_id=org_id, service_id=None, items=body.get("contacts") or [])
    orgs, _ = load_directory(session, organisation_ids=[org_id])
    org = orgs[org_id]
    return organisation_view(org), _org_event(org, "created", now)


def update_organisation(session: Session, organisation_id: str, body: dict, *, if_match: str, now: datetime) -> tuple[dict, object]:
    current = session.execute(select(organisations).where(organisations.c.id == organisation_id).with_for_update()).first()
    if current is None:
        raise Problem(404)
    _check_version(if_match, current.version)
    if "group_path" in body and body["group_path"] != current.group_path and session.execute(
            select(organisations.c.id).where(organisations.c.group_path == body["group_path"])).first():
        raise Problem(409, "conflict", detail=_detail("Ya existe una organización con ese grupo.",
                                                      "An organisation with that group already exists."))
    row = _org_row(body)
    session.execute(update(organisations).where(organisations.c.id == organisation_id)
                    .values(**row, version=current.version + 1, updated_at=now))
    if "contacts" in body and body["contacts"] is not None:
        _replace_contacts(session, organisation_id=organisation_id, service_id=None, items=body["contacts"])
    orgs, _ = load_directory(session, organisation_ids=[organisation_id])
    org = orgs[organisation_id]
    return organisation_view(org), _org_event(org, "updated", now)


SERVICE_SCALARS = ("service_type", "status", "accepts_referrals", "languages", "open_24_7", "email", "phone")


def _service_row(body: dict) -> dict:
    row = {k: body[k] for k in SERVICE_SCALARS if k in body}
    if "name" in body:
        row["name_es"], row["name_en"] = body["name"]["es"], body["name"]["en"]
    if "description" in body:
        row["description_es"], row["description_en"] = body["description"]["es"], body["description"]["en"]
    if "application_process" in body:
        ap = body["application_process"] or {}
        row["application_process_es"], row["application_process_en"] = ap.get("es"), ap.get("en")
    if "cost" in body:
        cost = body["cost"] or {}
        row["cost"] = cost.get("kind", "free")
        desc = cost.get("description") or {}
        row["fees_description_es"], row["fees_description_en"] = desc.get("es"), desc.get("en")
    if "eligibility" in body:
        e = body["eligibility"] or {}
        row.update(min_age=e.get("min_age"), max_age=e.get("max_age"),
                   sexes=[x.lower() for x in e.get("sexes") or []],
                   nationalities=[x.upper() for x in e.get("nationalities") or []],
                   mobility_statuses=[x.lower() for x in e.get("mobility_statuses") or []])
        desc = e.get("description") or {}
        row["eligibility_description_es"], row["eligibility_description_en"] = desc.get("es"), desc.get("en")
    return row


def _replace_locations(session: Session, service_id: str, organisation_id: str, items: list[dict]) -> None:
    old = [r.location_id for r in session.execute(select(service_at_location.c.location_id)
                                                  .where(service_at_location.c.service_id == service_id)).all()]
    session.execute(delete(service_at_location).where(service_at_location.c.service_id == service_id))
    if old:
        still_used = {r.location_id for r in session.execute(select(service_at_location.c.location_id)
                                                             .where(service_at_location.c.location_id.in_(old))).all()}
        orphans = [i for i in old if i not in still_used]
        if orphans:
            session.execute(delete(locations).where(locations.c.id.in_(orphans)))
    for loc in items:
        loc_id = loc.get("id") or str(uuid.uuid4())
        values = dict(name=loc["name"], province=loc["province"], canton=loc["canton"],
                      canton_key=normalise_place(loc["canton"]), canton_code=loc["canton_code"],
                      province_code=province_of(loc["canton_code"]), address=loc.get("address"),
                      latitude=loc.get("latitude"), longitude=loc.get("longitude"),
                      confidential=bool(loc.get("confidential", False)))
        # A location may be shared by several services of the same organisation (HSDS service_at_location).
        existing = session.execute(select(locations.c.organisation_id).where(locations.c.id == loc_id)).first()
        if existing is None:
            session.execute(insert(locations).values(id=loc_id, organisation_id=organisation_id, **values))
        elif existing.organisation_id != organisation_id:
            raise Problem(422, "validation", detail=_detail("El lugar pertenece a otra organización.",
                                                            "The location belongs to another organisation."),
                          errors=[{"field": "body.locations", "code": "foreign_location"}])
        else:
            session.execute(update(locations).where(locations.c.id == loc_id).values(**values))
        session.execute(insert(service_at_location).values(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{service_id}/{loc_id}")),
                                                           service_id=service_id, location_id=loc_id))


def _replace_schedules(session: Session, service_id: str, items: list[dict]) -> None:
    session.execute(delete(schedules).where(schedules.c.service_id == service_id))
    for h in items:
        session.execute(insert(schedules).values(id=str(uuid.uuid4()), service_id=service_id, weekday=h["weekday"],
                                                 opens_at=_time(h["opens_at"]), closes_at=_time(h["closes_at"])))


def _time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


def create_service(session: Session, body: dict, *, now: datetime, service_id: str | None = None) -> tuple[dict, object]:
    org = session.execute(select(organisations).where(organisations.c.id == body["organisation_id"])).first()
    if org is None:
        raise Problem(422, "validation", detail=_detail("La organización no existe.", "The organisation does not exist."),
                      errors=[{"field": "body.organisation_id", "code": "unknown_organisation"}])
    svc_id = service_id or str(uuid.uuid4())
    session.execute(insert(services).values(id=svc_id, organisation_id=org.id, **_service_row(body), version=1,
                                            created_at=now, updated_at=now))
    _replace_locations(session, svc_id, org.id, body.get("locations") or [])
    _replace_schedules(session, svc_id, body.get("schedules") or [])
    _replace_contacts(session, organisation_id=org.id, service_id=svc_id, items=body.get("contacts") or [])
    _, svcs = load_directory(session, service_ids=[svc_id])
    svc = svcs[0]
    return (service_view(svc, now=now, reveal_confidential=True),
            _service_event(svc, svc["organisation"], [loc["canton"] for loc in svc["locations"]], "created", now))


def update_service(session: Session, service_id: str, body: dict, *, if_match: str, now: datetime) -> tuple[dict, object]:
    current = session.execute(select(services).where(services.c.id == service_id).with_for_update()).first()
    if current is None:
        raise Problem(404)
    _check_version(if_match, current.version)
    session.execute(update(services).where(services.c.id == service_id)
                    .values(**_service_row(body), version=current.version + 1, updated_at=now))
    if body.get("locations") is not None:
        _replace_locations(session, service_id, current.organisation_id, body["locations"])
    if body.get("schedules") is not None:
        _replace_schedules(session, service_id, body["schedules"])
    if body.get("contacts") is not None:
        _replace_contacts(session, organisation_id=current.organisation_id, service_id=service_id, items=body["contacts"])
    _, svcs = load_directory(session, service_ids=[service_id])
    svc = svcs[0]
    return (service_view(svc, now=now, reveal_confidential=True),
            _service_event(svc, svc["organisation"], [loc["canton"] for loc in svc["locations"]], "updated", now))


def _check_version(if_match: str | None, version: int) -> None:
    if if_match is None:
        raise Problem(428, detail=_detail("Envíe If-Match con el ETag leído.", "Send If-Match with the ETag you read."))
    if if_match.strip() not in (etag(version), f'"{version}"', "*"):
        raise Problem(412, detail=_detail("Otra persona cambió este registro; recargue.",
                                          "Someone else changed this record; reload."), current_etag=etag(version))


def count_services(session: Session) -> int:
    return session.execute(select(func.count()).select_from(services)).scalar_one()
