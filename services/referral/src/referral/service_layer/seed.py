"""The Care Route seed directory for the cities in the brief (Tulcán, Ibarra, Lago Agrio,
Huaquillas, Guayaquil, Cuenca, Quito). Institutions are real kinds of bodies; every contact detail
is fictitious (`.example` domains, 0-filled numbers). Organisations whose identity-provider group
exists in the development realm take referrals through Care Route; the others are listed so that
caseworkers can find and phone them (`accepts_referrals: false`) until they are connected.

Idempotent: ids are derived from stable keys; an existing row is never overwritten (admins may have
edited it), and only new rows emit `directory.*` events."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text

from ..adapters.orm import organisations, services
from .directory import create_organisation, create_service

NS = uuid.UUID("a4f3c8e2-5b7d-4c1e-9f0a-2d6b8e1c3f57")

CITIES = {  # province, canton, latitude, longitude, INEC canton code
    "tulcan": ("Carchi", "Tulcán", 0.8119, -77.7172, "0401"),
    "ibarra": ("Imbabura", "Ibarra", 0.3517, -78.1223, "1001"),
    "lago-agrio": ("Sucumbíos", "Lago Agrio", 0.0847, -76.8828, "2101"),
    "huaquillas": ("El Oro", "Huaquillas", -3.4814, -80.2306, "0707"),
    "guayaquil": ("Guayas", "Guayaquil", -2.1894, -79.8891, "0901"),
    "cuenca": ("Azuay", "Cuenca", -2.9006, -79.0045, "0101"),
    "quito": ("Pichincha", "Quito", -0.2202, -78.5120, "1701"),
}
WEEKDAYS_8_17 = [{"weekday": d, "opens_at": "08:00", "closes_at": "17:00"} for d in range(5)]
WEEKDAYS_830_1630_SAT = ([{"weekday": d, "opens_at": "08:30", "closes_at": "16:30"} for d in range(5)]
                         + [{"weekday": 5, "opens_at": "09:00", "closes_at": "13:00"}])
ALL_AGES = {}
ADULTS = {"min_age": 18}
CHILDREN = {"max_age": 17}
ON_THE_MOVE = ["refugee", "asylum_seeker", "regular_migrant", "irregular_migrant", "migrant_in_transit", "returnee"]


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def _phone(n: int) -> str:
    return f"+593 2 000 {n:04d}"


def _loc(key: str, city: str, address: str, *, confidential: bool = False, dx: float = 0.0) -> dict:
    province, canton, lat, lon, code = CITIES[city]
    return {"id": _id("location", key, city), "name": f"{canton}", "province": province, "canton": canton,
            "canton_code": code,
            "address": None if confidential else address, "latitude": None if confidential else round(lat + dx, 4),
            "longitude": None if confidential else round(lon + dx, 4), "confidential": confidential}


def _org(path: str, name_es: str, name_en: str, desc_es: str, desc_en: str, n: int, alternate: str | None = None) -> dict:
    slug = path.strip("/").replace("/", "-")
    return {"id": _id("organisation", path), "group_path": path, "name": {"es": name_es, "en": name_en},
            "alternate_name": alternate, "description": {"es": desc_es, "en": desc_en},
            "email": f"contacto@{slug}.example", "phone": _phone(n), "website": f"https://{slug}.example",
            "status": "active",
            "contacts": [{"id": _id("contact", path), "name": "Mesa de referencias", "title": "Punto focal de referencias",
                          "department": None, "email": f"referencias@{slug}.example", "phone": _phone(n + 1)}]}


def _svc(org_path: str, key: str, service_type: str, name: tuple[str, str], desc: tuple[str, str], *,
         locations: list[dict], hours: list[dict] | None = None, open_24_7: bool = False,
         eligibility: dict | None = None, languages=("es",), accepts: bool = True, status: str = "available",
         n: int = 0, process: tuple[str, str] | None = None) -> dict:
    e = dict(eligibility or {})
    return {"id": _id("service", org_path, key), "organisation_path": org_path, "service_type": service_type,
            "name": {"es": name[0], "en": name[1]}, "description": {"es": desc[0], "en": desc[1]},
            "application_process": ({"es": process[0], "en": process[1]} if process else
                                    {"es": "Referencia por Care Route o llamada a la mesa de referencias.",
                                     "en": "Referral through Care Route or a call to the referral desk."}
                                    if accepts else
                                    {"es": "Aún no conectado a Care Route: coordine por teléfono.",
                                     "en": "Not yet connected to Care Route: coordinate by phone."}),
            "status": status, "accepts_referrals": accepts, "languages": list(languages),
            "cost": {"kind": "free", "description": {"es": "Gratuito", "en": "Free of charge"}},
            "eligibility": {"min_age": e.get("min_age"), "max_age": e.get("max_age"), "sexes": e.get("sexes", []),
                            "nationalities": e.get("nationalities", []),
                            "mobility_statuses": e.get("mobility_statuses", []),
                            "description": e.get("description")},
            "open_24_7": open_24_7, "schedules": [] if open_24_7 else (hours or WEEKDAYS_8_17),
            "locations": locations, "email": None, "phone": _phone(n) if n else None,
            "contacts": []}


def directory_seed() -> tuple[list[dict], list[dict]]:
    orgs: list[dict] = []
    svcs: list[dict] = []
    n = 100
    # -- IOM sub-offices and Centro AMOR ----------------------------------------------------------
    iom = {"tulcan": ("OIM Ecuador – Suboficina Tulcán", "IOM Ecuador – Tulcán sub-office"),
           "ibarra": ("OIM Ecuador – Suboficina Ibarra", "IOM Ecuador – Ibarra sub-office"),
           "lago-agrio": ("OIM Ecuador – Suboficina Lago Agrio", "IOM Ecuador – Lago Agrio sub-office"),
           "huaquillas": ("OIM Ecuador – Suboficina Huaquillas", "IOM Ecuador – Huaquillas sub-office"),
           "guayaquil": ("OIM Ecuador – Suboficina Guayaquil", "IOM Ecuador – Guayaquil sub-office"),
           "cuenca": ("OIM Ecuador – Suboficina Cuenca", "IOM Ecuador – Cuenca sub-office")}
    for city, (es, en) in iom.items():
        path = f"/iom/{city}"
        orgs.append(_org(path, es, en,
                         ("Punto focal de protección: atención psicosocial, salud primaria y asesoría legal "
                          "a personas en movilidad humana y comunidades de acogida."),
                         ("Protection focal point: psychosocial support, primary health care and legal advice for "
                          "people on the move and host communities."), n))
        loc = _loc(path, city, "Oficina de la OIM (dirección ficticia)", dx=0.002)
        svcs.append(_svc(path, "psychosocial", "psychosocial", ("Atención psicosocial – punto focal de protección",
                                                                "Psychosocial support – protection focal point"),
                         ("Primera acogida, primeros auxilios psicológicos y seguimiento de casos de VBG.",
                          "First reception, psychological first aid and GBV case follow-up."),
                         locations=[loc], languages=("es", "en"), n=n + 2))
        svcs.append(_svc(path, "legal", "legal_aid", ("Asesoría legal", "Legal advice"),
                         ("Orientación legal sobre denuncia, medidas de protección y regularización.",
                          "Legal guidance on reporting, protection measures and regularisation."),
                         locations=[loc], languages=("es", "en"), n=n + 3))
        n += 10
    orgs.append(_org("/iom/centro-amor-quito", "OIM – Centro AMOR Quito",
                     "IOM – Centro AMOR Quito (Migrant Care, Guidance and Referral Centre)",
                     "Centro de Atención a Migrantes, Orientación y Referencia: atención integral y referencia.",
                     "Migrant Care, Guidance and Referral Centre: integrated care and referral.", n,
                     alternate="Centro de Atención a Migrantes, Orientación y Referencia"))
    loc = _loc("/iom/centro-amor-quito", "quito", "Centro AMOR (dirección ficticia), Quito", dx=0.004)
    for key, stype, name, desc in (
            ("psychosocial", "psychosocial", ("Atención psicosocial – Centro AMOR", "Psychosocial support – Centro AMOR"),
             ("Atención psicosocial individual y grupal.", "Individual and group psychosocial support.")),
            ("legal", "legal_aid", ("Asesoría legal – Centro AMOR", "Legal advice – Centro AMOR"),
             ("Orientación legal y acompañamiento.", "Legal guidance and accompaniment.")),
            ("documentation", "documentation_migration", ("Orientación migratoria – Centro AMOR",
                                                         "Migration guidance – Centro AMOR"),
             ("Orientación sobre visas, regularización y documentos.", "Guidance on visas, regularisation and papers."))):
        svcs.append(_svc("/iom/centro-amor-quito", key, stype, name, desc, locations=[loc], languages=("es", "en"),
                         hours=WEEKDAYS_830_1630_SAT, n=n + 2))
    n += 10

    # -- Ministry of Public Health hospitals ------------------------------------------------------
    connected_hospitals = {"tulcan", "lago-agrio", "guayaquil"}
    for city in ("tulcan", "ibarra", "lago-agrio", "huaquillas", "guayaquil", "cuenca", "quito"):
        canton = CITIES[city][1]
        path = f"/government/msp/hospital-{city}"
        orgs.append(_org(path, f"MSP – Hospital General {canton}", f"Ministry of Public Health – {canton} General Hospital",
                         "Hospital del Ministerio de Salud Pública.", "Ministry of Public Health hospital.", n))
        svcs.append(_svc(path, "cmr", "health_cmr",
                         ("Emergencia – atención integral a víctimas de violencia sexual",
                          "Emergency – clinical management of rape"),
                         (("Atención las 24 horas: profilaxis post-exposición al VIH (hasta 72 h), anticoncepción "
                           "de emergencia (hasta 120 h), atención de lesiones y certificado médico."),
                          ("Open 24 hours: HIV post-exposure prophylaxis (within 72 h), emergency contraception "
                           "(within 120 h), injury care and medical certificate.")),
                         locations=[_loc(path, city, f"Hospital General {canton} (dirección ficticia)", dx=-0.003)],
                         open_24_7=True, accepts=city in connected_hospitals, n=n + 2))
        n += 10

    # -- Fiscalía (Attorney General's Office) -----------------------------------------------------
    fiscalias = {"carchi": "tulcan", "pichincha": "quito", "imbabura": "ibarra", "sucumbios": "lago-agrio",
                 "el-oro": "huaquillas", "guayas": "guayaquil", "azuay": "cuenca"}
    for province_key, city in fiscalias.items():
        province = CITIES[city][0]
        path = f"/government/fiscalia/{province_key}"
        orgs.append(_org(path, f"Fiscalía Provincial de {province}", f"Provincial Prosecutor's Office – {province}",
                         "Fiscalía General del Estado.", "Attorney General's Office.", n))
        svcs.append(_svc(path, "complaints", "police_justice",
                         ("Recepción de denuncias – violencia de género (flagrancia 24 h)",
                          "Criminal complaints – gender-based violence (24 h on-call unit)"),
                         ("Denuncia, peritaje médico legal y cámara de Gesell.",
                          "Complaints, forensic examination and Gesell chamber interviews."),
                         locations=[_loc(path, city, f"Fiscalía Provincial de {province} (dirección ficticia)", dx=0.005)],
                         open_24_7=True, accepts=province_key in ("carchi", "pichincha"), n=n + 2))
        n += 10

    # -- Juntas Cantonales de Protección de Derechos ----------------------------------------------
    for city in ("tulcan", "quito", "ibarra", "lago-agrio", "huaquillas", "guayaquil", "cuenca"):
        canton = CITIES[city][1]
        path = f"/government/juntas-cantonales/{city}"
        orgs.append(_org(path, f"Junta Cantonal de Protección de Derechos de {canton}",
                         f"Cantonal Rights Protection Board – {canton}",
                         "Dicta medidas administrativas inmediatas de protección.",
                         "Issues immediate administrative protection measures.", n))
        svcs.append(_svc(path, "measures", "protection_measures",
                         ("Medidas administrativas de protección (boleta de auxilio)",
                          "Administrative protection measures (boleta de auxilio)"),
                         ("Otorga medidas inmediatas de protección, incluida la boleta de auxilio.",
                          "Grants immediate protection measures, including the boleta de auxilio."),
                         locations=[_loc(path, city, f"Municipio de {canton} (dirección ficticia)", dx=0.001)],
                         accepts=city in ("tulcan", "quito"), n=n + 2))
        n += 10

    # -- Police (DINAPEN) -------------------------------------------------------------------------
    path = "/government/policia-dinapen"
    orgs.append(_org(path, "Policía Nacional – DINAPEN", "National Police – DINAPEN (children and adolescents)",
                     "Dirección Nacional de Policía Especializada para Niños, Niñas y Adolescentes.",
                     "National police directorate specialised in children and adolescents.", n))
    svcs.append(_svc(path, "children", "police_justice",
                     ("Protección policial a niñas, niños y adolescentes", "Police protection for children and adolescents"),
                     ("Rescate, protección y acompañamiento a niñas, niños y adolescentes.",
                      "Rescue, protection and accompaniment of children and adolescents."),
                     locations=[_loc(path, c, f"DINAPEN {CITIES[c][1]} (dirección ficticia)", dx=0.006)
                                for c in ("tulcan", "lago-agrio", "quito", "guayaquil")],
                     open_24_7=True, eligibility={**CHILDREN, "description": {"es": "Menores de 18 años.",
                                                                              "en": "Under 18."}}, n=n + 2))
    n += 10

    # -- Ministry for Women and Human Rights ------------------------------------------------------
    path = "/government/ministerio-mujer-ddhh"
    orgs.append(_org(path, "Ministerio de la Mujer y Derechos Humanos", "Ministry of Women and Human Rights",
                     "Ente rector del Sistema Nacional para Prevenir y Erradicar la Violencia contra las Mujeres.",
                     "Lead body of the national system to prevent and eradicate violence against women.", n))
    spi_locations = [_loc(path, c, f"Servicio de Protección Integral {CITIES[c][1]} (dirección ficticia)", dx=0.007)
                     for c in ("tulcan", "ibarra", "lago-agrio", "quito", "guayaquil", "cuenca")]
    svcs.append(_svc(path, "spi-psychosocial", "psychosocial", ("Servicio de Protección Integral – atención psicológica",
                                                                "Integrated Protection Service – psychological care"),
                     ("Atención psicológica a víctimas de violencia.", "Psychological care for survivors of violence."),
                     locations=spi_locations, accepts=False, n=n + 2))
    svcs.append(_svc(path, "spi-legal", "legal_aid", ("Servicio de Protección Integral – patrocinio legal",
                                                      "Integrated Protection Service – legal representation"),
                     ("Patrocinio legal gratuito en casos de violencia.", "Free legal representation in violence cases."),
                     locations=spi_locations, accepts=False, n=n + 3))
    n += 10

    # -- Civil society ----------------------------------------------------------------------------
    path = "/civil-society/alas-de-colibri"
    orgs.append(_org(path, "Fundación Alas de Colibrí", "Alas de Colibrí Foundation",
                     "Socio implementador de la OIM en frontera: atención psicosocial y legal.",
                     "IOM implementing partner at the border: psychosocial and legal support.", n))
    svcs.append(_svc(path, "psychosocial", "psychosocial", ("Acompañamiento psicosocial", "Psychosocial accompaniment"),
                     ("Atención psicosocial individual, grupos de apoyo y visitas.",
                      "Individual psychosocial care, support groups and visits."),
                     locations=[_loc(path, c, f"Alas de Colibrí {CITIES[c][1]} (dirección ficticia)", dx=-0.001)
                                for c in ("tulcan", "lago-agrio", "quito")], hours=WEEKDAYS_830_1630_SAT, n=n + 2))
    svcs.append(_svc(path, "legal", "legal_aid", ("Asesoría y patrocinio legal", "Legal advice and representation"),
                     ("Asesoría legal en violencia basada en género y acompañamiento a la denuncia.",
                      "Legal advice on GBV and accompaniment when reporting."),
                     locations=[_loc(path, c, f"Alas de Colibrí {CITIES[c][1]} (dirección ficticia)", dx=-0.001)
                                for c in ("tulcan", "quito")], n=n + 3))
    n += 10
    path = "/civil-society/quimera"
    orgs.append(_org(path, "Fundación Quimera", "Quimera Foundation",
                     "Socio implementador de la OIM: mujeres y personas LGBTIQ+ en movilidad humana.",
                     "IOM implementing partner: women and LGBTIQ+ people on the move.", n))
    for key, stype, name, desc in (
            ("psychosocial", "psychosocial", ("Atención psicosocial", "Psychosocial support"),
             ("Espacios seguros y atención psicosocial.", "Safe spaces and psychosocial support.")),
            ("legal", "legal_aid", ("Asesoría legal", "Legal advice"),
             ("Orientación legal y acompañamiento.", "Legal guidance and accompaniment."))):
        svcs.append(_svc(path, key, stype, name, desc,
                         locations=[_loc(path, c, f"Fundación Quimera {CITIES[c][1]} (dirección ficticia)", dx=0.003)
                                    for c in ("ibarra", "quito")], languages=("es", "en"), n=n + 2))
    n += 10
    path = "/civil-society/hias"
    orgs.append(_org(path, "HIAS Ecuador", "HIAS Ecuador",
                     "Protección, asesoría legal, medios de vida y documentación para personas refugiadas y migrantes.",
                     "Protection, legal aid, livelihoods and documentation for refugees and migrants.", n))
    hias_locations = [_loc(path, c, f"HIAS {CITIES[c][1]} (dirección ficticia)", dx=-0.004)
                      for c in ("tulcan", "lago-agrio", "quito", "guayaquil", "cuenca")]
    svcs.append(_svc(path, "legal", "legal_aid", ("Asesoría legal y protección internacional",
                                                  "Legal aid and international protection"),
                     ("Asesoría sobre refugio, visas y acceso a derechos.", "Advice on asylum, visas and access to rights."),
                     locations=hias_locations, languages=("es", "en"), n=n + 2))
    svcs.append(_svc(path, "livelihoods", "livelihoods", ("Medios de vida", "Livelihoods"),
                     ("Capital semilla, formación y vinculación laboral.", "Seed capital, training and job placement."),
                     locations=hias_locations, eligibility={**ADULTS}, n=n + 3))
    svcs.append(_svc(path, "documentation", "documentation_migration", ("Documentación y regularización",
                                                                        "Documentation and regularisation"),
                     ("Acompañamiento en trámites de refugio y regularización migratoria.",
                      "Support with asylum and migration regularisation procedures."),
                     locations=hias_locations, languages=("es", "en"),
                     eligibility={"mobility_statuses": ON_THE_MOVE,
                                  "description": {"es": "Personas en movilidad humana.", "en": "People on the move."}},
                     n=n + 4))
    n += 10
    shelters = {"tulcan": ("/civil-society/casa-de-acogida-tulcan", True, "available"),
                "lago-agrio": ("/civil-society/casa-de-acogida-lago-agrio", False, "available"),
                "guayaquil": ("/civil-society/casa-de-acogida-guayaquil", False, "at_capacity"),
                "cuenca": ("/civil-society/casa-de-acogida-cuenca", False, "available")}
    for city, (path, accepts, status) in shelters.items():
        canton = CITIES[city][1]
        orgs.append(_org(path, f"Casa de Acogida {canton}", f"{canton} women's shelter",
                         "Acogida temporal, protección y atención integral a mujeres y sus hijas e hijos.",
                         "Temporary shelter, protection and integrated care for women and their children.", n))
        svcs.append(_svc(path, "shelter", "safe_shelter", (f"Casa de acogida – {canton}", f"Safe shelter – {canton}"),
                         ("Acogida temporal con atención psicológica, legal y social. La dirección es reservada.",
                          "Temporary shelter with psychological, legal and social care. The address is confidential."),
                         locations=[_loc(path, city, "", confidential=True)], open_24_7=True, accepts=accepts,
                         status=status,
                         eligibility={**ADULTS, "sexes": ["female"],
                                      "description": {"es": "Mujeres adultas, con sus hijas e hijos.",
                                                      "en": "Adult women, with their children."}},
                         n=n + 2))
        n += 10
    return orgs, svcs


def seed_directory(runtime, *, now: datetime, traceparent: str | None = None) -> dict:
    """Inserts what is missing; returns counts of what was added."""
    orgs, svcs = directory_seed()
    added = {"organisations": 0, "services": 0}
    with runtime.uow(traceparent) as uow:
        s = uow.session
        # One seeder at a time (several API replicas may start together).
        s.execute(text("select pg_advisory_xact_lock(4242001)"))
        existing_orgs = {r.id for r in s.execute(select(organisations.c.id)).all()}
        by_path = {r.group_path: r.id for r in s.execute(select(organisations.c.group_path, organisations.c.id)).all()}
        for org in orgs:
            if org["id"] in existing_orgs or org["group_path"] in by_path:
                continue
            body = {k: v for k, v in org.items() if k != "id"}
            _, event = create_organisation(s, body, now=now, organisation_id=org["id"])
            by_path[org["group_path"]] = org["id"]
            uow.publish(event)
            added["organisations"] += 1
        existing_services = {r.id for r in s.execute(select(services.c.id)).all()}
        for svc in svcs:
            if svc["id"] in existing_services:
                continue
            body = {k: v for k, v in svc.items() if k not in ("id", "organisation_path")}
            body["organisation_id"] = by_path[svc["organisation_path"]]
            _, event = create_service(s, body, now=now, service_id=svc["id"])
            uow.publish(event)
            added["services"] += 1
        uow.commit()
    return added
