"""The pages with the services faked: the registration wizard (consent first, data kept server-side,
one case per double click, the services' validation errors next to the right field), a stale
referral answer, role checks, and the page weight."""
from __future__ import annotations

import gzip
import json
import re
import threading

import httpx
import pytest
from frontend_testing import BASE, CASE, CONSENTS, SERVICE, client_for, csrf_of, problem, sign_in_as

from careroute_frontend import charts

pytestmark = pytest.mark.unit

CONSENT = {"consent.given_by": "survivor", "consent.registration": "1", "consent.reporting": "1",
           "consent.given_at": "2026-01-01T10:00", "consent.sharing.0.recipient": "org:/civil-society/alas-de-colibri",
           "consent.sharing.0.categories": ["contact_details", "psychosocial_needs"]}
SURVIVOR = {"survivor.given_names": "Ana", "survivor.phone": "+593 99 123 4567", "profile.age_years": "29",
            "profile.sex": "female", "profile.nationality": "VE", "profile.mobility_status": "refugee",
            "profile.canton": "0401"}
INCIDENT = {"incident.record": "no"}
RISK = {"risk.level": "medium"}
NEEDS = {"needs": ["psychosocial"]}


def _post(client, url, data):
    token = csrf_of(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token, "go": "next"}, headers={"origin": BASE})


def fill_wizard(client) -> str:
    first = client.get("/cases/new").headers["location"]
    base = first.rsplit("/", 1)[0]
    for step, data in (("consent", CONSENT), ("survivor", SURVIVOR), ("incident", INCIDENT), ("risk", RISK),
                       ("needs", NEEDS)):
        r = _post(client, f"{base}/{step}", data)
        assert r.status_code == 303, (step, r.text[:2000])
    return base


def test_registration_sends_one_payload_with_consent_first(make_app, fake_services):
    created = []

    def register(request: httpx.Request):
        created.append(json.loads(request.content))
        return httpx.Response(201, json={**CASE, "id": "case-1"}, headers={"etag": 'W/"1"'})

    fake_services.on("POST", "intake", r"/v1/cases", register)
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    base = fill_wizard(client)
    review = client.get(f"{base}/review")
    assert "Ana" in review.text
    token = csrf_of(review.text)
    r = client.post(f"{base}/register", data={"csrf_token": token}, headers={"origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/cases/case-1"
    body = created[0]
    assert body["consent"]["registration"] is True and body["consent"]["given_by"] == "survivor"
    assert body["consent"]["sharing"] == [{"recipient_organisation": "/civil-society/alas-de-colibri",
                                           "categories": ["contact_details", "psychosocial_needs"]}]
    assert body["consent"]["given_at"].endswith("+00:00")
    assert body["survivor"] == {"given_names": "Ana", "phone": "+593 99 123 4567"}
    assert body["profile"]["province"] == "04" and body["profile"]["age_years"] == 29
    assert "incident" not in body and body["needs"] == ["psychosocial"] and body["risk"] == {"level": "medium"}
    key = fake_services.called("POST", "/v1/cases")[0].headers["idempotency-key"]
    assert re.fullmatch(r"[0-9a-f-]{36}", key)
    # the personal data typed in is no longer held by the frontend
    session = app.state.frontend.store.get(client.cookies.get("careroute_session"))
    assert all(not d.get("data") for d in session.drafts.values())


def test_a_double_click_on_register_makes_one_case(make_app, fake_services):
    barrier = threading.Event()

    def slow_register(request):
        barrier.wait(2)
        return httpx.Response(201, json={**CASE, "id": "case-1"})

    fake_services.on("POST", "intake", r"/v1/cases", slow_register)
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    base = fill_wizard(client)
    token = csrf_of(client.get(f"{base}/review").text)
    results = []

    def click():
        results.append(client.post(f"{base}/register", data={"csrf_token": token}, headers={"origin": BASE}))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    barrier.set()
    for t in threads:
        t.join()
    assert [r.headers["location"] for r in results] == ["/cases/case-1", "/cases/case-1"]
    assert len(fake_services.called("POST", "/v1/cases")) == 1
    # and a third click, later, still lands on the same case
    again = client.post(f"{base}/register", data={"csrf_token": token}, headers={"origin": BASE})
    assert again.headers["location"] == "/cases/case-1"
    assert len(fake_services.called("POST", "/v1/cases")) == 1


def test_service_validation_errors_come_back_next_to_the_field_in_spanish(make_app, fake_services):
    fake_services.on("POST", "intake", r"/v1/cases", lambda r: problem(
        422, "Los datos enviados no son válidos",
        errors=[{"field": "body.profile.nationality", "code": "value_error", "message": "unknown country code"}]))
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    base = fill_wizard(client)
    token = csrf_of(client.get(f"{base}/review").text)
    r = client.post(f"{base}/register", data={"csrf_token": token}, headers={"origin": BASE})
    assert r.headers["location"] == f"{base}/survivor"
    page = client.get(r.headers["location"]).text
    assert 'id="f-profile-nationality-error"' in page and "El valor no es válido." in page
    assert 'value="Ana"' in page  # kept
    assert "unknown country code" not in page


def test_wizard_refuses_registration_without_consent(make_app, fake_services):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    first = client.get("/cases/new").headers["location"]
    r = _post(client, first, {**CONSENT, "consent.registration": ""})
    assert r.status_code == 422
    assert "Un caso solo se puede registrar con el consentimiento informado" in r.text
    assert not fake_services.called("POST", "/v1/cases")


def test_stale_accept_of_a_declined_referral_gets_a_clear_message(make_app, fake_services):
    referral = {"id": "r-1", "case_id": "c-1", "status": "pending", "priority": "urgent", "side": "receiving",
                "service": {"type": "psychosocial", "name": {"es": "Acompañamiento", "en": "Accompaniment"}},
                "receiving_organisation": {"group_path": "/civil-society/alas-de-colibri"},
                "shared_categories": ["contact_details"], "allowed_actions": ["accept", "decline"],
                "created_at": "2026-01-01T10:00:00Z", "response_due_at": "2099-01-01T10:00:00Z", "answer": {}}
    fake_services.on("GET", "referral", r"/v1/referrals/r-1", referral, headers={"etag": 'W/"1"'})
    fake_services.on("POST", "referral", r"/v1/referrals/r-1/accept", lambda r: problem(
        409, "x", current_status="declined", current_etag='W/"2"'))
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, username="provider.alas", roles=("service-provider",),
               groups=("/civil-society/alas-de-colibri",))
    page = client.get("/referrals/r-1")
    assert 'id="accept-referral"' in page.text
    r = client.post("/referrals/r-1/accept", data={"csrf_token": csrf_of(page.text), "etag": 'W/"1"'},
                    headers={"origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/referrals/r-1"
    sent = fake_services.called("POST", "/accept")[0]
    assert sent.headers["if-match"] == 'W/"1"'
    page = client.get("/referrals/r-1").text
    assert "Esta referencia ya fue respondida (ahora está: Rechazada)" in page


def test_a_decline_needs_a_reason(make_app, fake_services):
    referral = {"id": "r-1", "case_id": "c-1", "status": "pending", "priority": "urgent", "side": "receiving",
                "service": {"type": "psychosocial"}, "receiving_organisation": {}, "shared_categories": [],
                "allowed_actions": ["accept", "decline"], "answer": {}}
    fake_services.on("GET", "referral", r"/v1/referrals/r-1", referral)
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, username="provider.alas", roles=("service-provider",),
               groups=("/civil-society/alas-de-colibri",))
    token = csrf_of(client.get("/referrals/r-1").text)
    r = client.post("/referrals/r-1/decline", data={"csrf_token": token, "note": "x"}, headers={"origin": BASE})
    assert r.status_code == 422 and "Elija por qué se rechaza la referencia." in r.text
    assert 'value="x"' in r.text or ">x</textarea>" in r.text
    assert not fake_services.called("POST", "/decline")


def test_roles_are_checked_before_anything_is_fetched(make_app, fake_services):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, username="official.ministerio", roles=("government-official",),
               groups=("/government/ministerio-mujer-ddhh",))
    for path in ("/cases/c-1", "/cases/new", "/audit", "/dsr", "/directory/admin"):
        assert client.get(path).status_code == 403, path
    assert not fake_services.calls or all("/unread-count" in c.url.path for c in fake_services.calls)


def test_a_case_outside_the_office_is_not_found(make_app, fake_services):
    fake_services.on("GET", "intake", r"/v1/cases/[^/]+", lambda r: problem(404))
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, username="caseworker.quito", groups=("/iom/centro-amor-quito",))
    r = client.get("/cases/c-1")
    assert r.status_code == 404 and "Esta página no existe" in r.text


def test_refer_offers_only_consented_categories(make_app, fake_services):
    fake_services.on("GET", "intake", r"/v1/cases/c-1", CASE)
    fake_services.on("GET", "intake", r"/v1/cases/c-1/consents", {"items": CONSENTS})
    fake_services.on("GET", "referral", r"/v1/directory/services", {"items": [SERVICE]})
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    page = client.get("/cases/c-1/refer").text
    offered = set(re.findall(r'name="categories" value="([a-z_]+)"', page))
    assert offered == {"contact_details", "psychosocial_needs"}
    query = fake_services.called("GET", "/v1/directory/services")[0].url.params
    assert query["case_id"] == "c-1" and query["canton"] == "0401" and query["service_type"] == "psychosocial"


def test_charts_are_accessible_svg_without_inline_styles():
    svg = str(charts.bar_chart("Incidents", [charts.Row("Rape", 7, "7"), charts.Row("Other", None, "—")],
                               description="Bar chart", suppressed_text="withheld"))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "style=" not in svg and "<script" not in svg
    assert "withheld" in svg and 'stroke-dasharray' in svg


def test_page_weight_of_the_main_pages(make_app, fake_services):
    """HTML + CSS + JS + images as sent to a browser that accepts gzip (first visit, empty cache)."""
    fake_services.on("GET", "intake", r"/v1/cases/[^/]+", CASE)
    fake_services.on("GET", "intake", r"/v1/cases/[^/]+/consents", {"items": CONSENTS})
    fake_services.on("GET", "referral", r"/v1/directory/services", {"items": [SERVICE] * 10})
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, roles=("caseworker", "supervisor"))
    gz = {"accept-encoding": "gzip"}
    report = {}
    for path in ("/", "/cases", "/cases/c-1", "/cases/c-1/refer", "/directory", "/notifications"):
        r = client.get(path, headers=gz)
        assert r.status_code == 200, path
        html_bytes = len(gzip.compress(r.content)) if r.headers.get("content-encoding") != "gzip" else \
            int(r.headers.get("content-length") or len(gzip.compress(r.content)))
        assets = 0
        for url in set(re.findall(r'(?:href|src)="(/static/[^"]+)"', r.text)) | {"/favicon.ico"}:
            asset = client.get(url, headers=gz)
            assets += int(asset.headers.get("content-length") or len(asset.content))
        report[path] = (html_bytes, assets, html_bytes + assets)
    print("\npage weight (bytes, gzip; html + assets = total):")
    for path, (html, assets, total) in report.items():
        print(f"  {path:22} {html:>7} + {assets:>6} = {total:>7}")
    assert all(total < 60_000 for _, _, total in report.values()), report
