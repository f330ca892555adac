"""The whole care route in a real browser (Debian chromium driven by Playwright), against the whole
platform running as processes:

a caseworker in Tulcán registers a case with consent (a double click on "register" makes one case)
→ refers it to the psychosocial service of Fundación Alas de Colibrí, sharing only what was consented
→ the provider signs in, sees only the consented data, accepts, completes with a counter-referral
→ the caseworker sees the notification and the outcome
→ an auditor finds every step in the trail and sees an inclusion proof verify.
Also: a provider of another organisation cannot reach the case by URL; a government official sees
statistics but no case; a stale page answering an already-declined referral gets a clear message;
page weight and automated accessibility checks of the main pages.

The tests run in order and share the journey's state (case and referral ids)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from careroute_e2e import axe_source, axe_violations, page_weight, screenshot, sign_in, sign_out

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ALAS = "/civil-society/alas-de-colibri"
GIVEN, FAMILY, PHONE = "Ana Lucía", "Quintero Vargas", "+593 99 123 4567"
journey: dict = {}
ECUADOR = timezone(timedelta(hours=-5))


@pytest.fixture(scope="module")
def context_for(chromium):
    contexts = []

    def make(locale: str = "es-EC"):
        ctx = chromium.new_context(locale=locale, viewport={"width": 1200, "height": 860})
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="module")
def caseworker(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "caseworker.tulcan")
    return page


def _wait_for(page, predicate, timeout_s: float = 30.0, reload: bool = True, interval_ms: int = 1000):
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while datetime.now() < deadline:
        if predicate():
            return True
        page.wait_for_timeout(interval_ms)
        if reload:
            page.reload()
    raise AssertionError("condition not met in time")


def test_caseworker_registers_a_case_with_consent_first(platform, caseworker):
    page = caseworker
    assert page.locator("html").get_attribute("lang") == "es"
    page.goto(platform.base_url + "/cases/new")
    assert re.search(r"/cases/new/[0-9a-f]+/consent$", page.url)
    # 1. consent
    page.check("input[name='consent.given_by'][value='survivor']")
    page.check("input[name='consent.registration']")
    page.check("input[name='consent.reporting']")
    page.select_option("select[name='consent.sharing.0.recipient']", f"org:{ALAS}")
    for category in ("contact_details", "psychosocial_needs", "legal_needs"):
        page.check(f"input[name='consent.sharing.0.categories'][value='{category}']")
    screenshot(page, "01-register-consent", curated=True)
    page.click("button[value=next]")
    # 2. survivor — a missing required answer is shown next to its field, what was typed is kept
    page.fill("input[name='survivor.given_names']", GIVEN)
    page.fill("input[name='survivor.family_names']", FAMILY)
    page.fill("input[name='survivor.phone']", PHONE)
    page.click("button[value=next]")
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#f-profile-sex-error").is_visible()
    assert page.input_value("input[name='survivor.given_names']") == GIVEN
    page.fill("input[name='profile.age_years']", "29")
    page.check("input[name='profile.sex'][value='female']")
    page.select_option("select[name='profile.nationality']", "VE")
    page.select_option("select[name='profile.mobility_status']", "refugee")
    page.select_option("select[name='profile.province']", "04")
    page.select_option("select[name='profile.canton']", "0401")
    page.click("button[value=next]")
    # 3. incident: rape yesterday evening → the clinical windows must surface
    yesterday = (datetime.now(ECUADOR) - timedelta(days=1)).date().isoformat()
    page.fill("input[name='incident.occurred_on']", yesterday)
    page.select_option("select[name='incident.time_of_day']", "evening")
    page.select_option("select[name='incident.location_type']", "street")
    page.select_option("select[name='incident.province']", "04")
    page.select_option("select[name='incident.canton']", "0401")
    page.check("input[name='incident.gbvims_type'][value='rape']")
    page.check("input[name='incident.legal_types'][value='sexual']")
    page.fill("input[name='incident.perpetrators.count']", "1")
    page.select_option("select[name='incident.perpetrators.sex']", "male")
    page.select_option("select[name='incident.perpetrators.age_group']", "26_40")
    page.select_option("select[name='incident.perpetrators.relationship']", "no_relation")
    page.check("input[name='incident.reported_to'][value='not_reported']")
    page.click("button[value=next]")
    # 4. risk
    page.check("input[name='risk.level'][value='medium']")
    page.fill("textarea[name='risk.safety_plan']", "Contacto seguro acordado; visitas en la oficina.")
    page.click("button[value=next]")
    # 5. needs
    page.check("input[name='needs'][value='psychosocial']")
    page.check("input[name='needs'][value='health_cmr']")
    page.click("button[value=next]")
    # 6. review: a double click on "register" makes one case
    assert page.locator("#register-case").is_visible()
    screenshot(page, "02-register-review")
    page.dblclick("#register-case")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
    journey["case_id"] = page.url.rsplit("/", 1)[-1]
    assert page.locator(".flash.success").is_visible()
    # the clinical windows are prominent on the case page
    clinical = page.locator("section.clinical")
    assert clinical.is_visible()
    assert "72" in clinical.inner_text() and "120" in clinical.inner_text()
    screenshot(page, "03-case-page", curated=True)
    # her identity opens only with a stated purpose (recorded in the audit log)
    page.select_option("#f-purpose", "case_management")
    page.click("#identity button[type=submit]")
    assert GIVEN in page.locator("main").inner_text() and PHONE in page.locator("main").inner_text()
    case_path = f"/cases/{journey['case_id']}"
    page.goto(platform.base_url + "/cases")
    # the double click made one case: it is listed once (newest first; other tests' cases may be there too)
    assert page.locator(f"#case-results tbody tr a[href='{case_path}']").count() == 1


def test_caseworker_refers_within_consent(platform, caseworker):
    page = caseworker
    case_id = journey["case_id"]
    page.goto(platform.base_url + f"/cases/{case_id}/refer?service_type=psychosocial&canton=0401")
    service = page.locator("#refer-results li", has_text="Alas de Colibrí")
    assert service.count() >= 1
    service.first.locator("input[name=service_id]").check()
    # only the consented categories can be chosen: identity and the incident were not consented
    offered = page.locator("input[name=categories]").evaluate_all("els => els.map(e => e.value)")
    assert "identity" not in offered and "incident_summary" not in offered
    page.check("input[name=categories][value=contact_details]")
    page.check("input[name=categories][value=psychosocial_needs]")
    page.check("input[name=priority][value=urgent]")
    page.fill("textarea[name=reason]", "Necesita acompañamiento psicosocial tras el incidente.")
    screenshot(page, "04-refer", curated=True)
    page.click("#refer-results button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{case_id}"))
    assert page.locator(".flash.success").is_visible()
    row = page.locator("#referrals tbody tr").first
    journey["referral_id"] = row.get_attribute("id").removeprefix("referral-")
    assert row.locator(".tag.pending").count() == 1


def test_provider_sees_only_consented_data_accepts_and_completes(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "provider.alas", "/referrals")
    referral_id = journey["referral_id"]
    _wait_for(page, lambda: page.locator(f"a[href='/referrals/{referral_id}']").count() > 0)
    screenshot(page, "05-provider-inbox", curated=True)
    page.click(f"a[href='/referrals/{referral_id}']")
    text = page.locator("main").inner_text()
    assert PHONE not in text and GIVEN not in text  # nothing before acceptance
    page.click("#accept-referral")
    assert page.locator(".flash.success").is_visible()
    shared = page.locator("#shared-data")
    assert shared.is_visible()
    shared_text = shared.inner_text()
    assert PHONE in shared_text                                   # consented: contact details
    assert GIVEN not in page.content() and FAMILY not in page.content()  # identity was not consented
    assert page.locator("#shared-data [data-category=identity]").count() == 0
    assert page.locator("#shared-data [data-category=incident_summary]").count() == 0
    screenshot(page, "06-provider-referral-accepted", curated=True)
    page.check("input[name=service_delivered][value=yes]")
    page.select_option("select[name=outcome_code]", "needs_met")
    page.fill("textarea#f-note", "Tres sesiones de acompañamiento; continúa en grupo de apoyo.")
    page.click("#complete-referral")
    assert page.locator(".flash.success").is_visible()
    assert page.locator("h1 .tag.completed").count() == 1
    journey["provider_page"] = page


def test_caseworker_sees_the_notification_and_the_outcome(platform, caseworker):
    page = caseworker
    page.goto(platform.base_url + "/notifications")
    _wait_for(page, lambda: page.locator("#notification-list li", has_text=re.compile("contrarreferencia|ounter",
                                                                                      re.IGNORECASE)).count() > 0, 60)
    badge = page.locator("#unread-count")
    assert int(badge.get_attribute("data-count") or 0) >= 1
    screenshot(page, "07-notifications", curated=True)
    page.locator("#notification-list li", has_text=re.compile("contrarreferencia|ounter", re.IGNORECASE)).first \
        .locator("button").click()
    page.wait_for_url(re.compile(rf"/cases/{journey['case_id']}"))
    row = page.locator(f"#referral-{journey['referral_id']}")
    assert row.locator(".tag.completed").count() == 1
    assert "Tres sesiones" in row.inner_text()
    page.goto(platform.base_url + f"/cases/{journey['case_id']}#timeline")
    assert page.locator("#timeline li").count() >= 5


def test_live_unread_count_arrives_without_reload(platform, caseworker, context_for):
    """A new notification updates the badge through the server-sent event stream."""
    page = caseworker
    # mark everything read, then cause a new notice (a second referral, declined by the provider)
    page.goto(platform.base_url + "/notifications")
    if page.locator("form[action='/notifications/read-all'] button").count():
        page.click("form[action='/notifications/read-all'] button")
    page.goto(platform.base_url + f"/cases/{journey['case_id']}/refer?service_type=legal_aid&canton=0401")
    page.locator("#refer-results li", has_text="Alas de Colibrí").first.locator("input[name=service_id]").check()
    page.check("input[name=categories][value=legal_needs]")
    page.check("input[name=priority][value=normal]")
    page.click("#refer-results button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{journey['case_id']}"))
    rows = page.locator("#referrals tbody tr")
    ids = [rows.nth(i).get_attribute("id").removeprefix("referral-") for i in range(rows.count())]
    journey["second_referral_id"] = next(i for i in ids if i != journey["referral_id"])
    page.goto(platform.base_url + "/")
    page.wait_for_timeout(1500)  # the stream's first event carries the current count
    before = int(page.locator("#unread-count").get_attribute("data-count") or 0)

    provider = context_for().new_page()
    sign_in(provider, platform.base_url, "provider.alas", f"/referrals/{journey['second_referral_id']}")
    stale = provider.context.new_page()  # the same provider has the referral open in another tab
    stale.goto(platform.base_url + f"/referrals/{journey['second_referral_id']}")
    provider.click("details:has(#f-reason_code) summary")
    provider.select_option("#f-reason_code", "no_capacity")
    provider.click("form[action$='/decline'] button[type=submit]")
    assert provider.locator(".flash.success").is_visible()
    # the stale tab still shows "accept": it gets a clear message in the user's language
    stale.click("#accept-referral")
    flash = stale.locator(".flash.error")
    assert flash.is_visible()
    assert "Rechazada" in flash.inner_text() or "ya fue respondida" in flash.inner_text()
    screenshot(stale, "08-stale-accept-message", curated=True)

    page.wait_for_function(f"() => parseInt(document.getElementById('unread-count').dataset.count || '0') > {before}",
                           timeout=45_000)


def test_auditor_finds_every_step_and_sees_a_proof_verify(platform, context_for):
    page = context_for("en-GB").new_page()
    sign_in(page, platform.base_url, "auditor.oversight", f"/audit?resource_type=case&resource_id={journey['case_id']}")
    wanted = {"case.registered", "consent.granted", "referral.created", "referral.accepted", "referral.completed"}

    def seen() -> set[str]:
        actions = page.locator("#audit-results tbody tr td:nth-child(4)").all_inner_texts()
        return {a.strip() for a in actions}

    def all_steps() -> bool:
        found = seen()
        return all(any(w in a for a in found) for w in wanted) and any("shared" in a for a in found)

    _wait_for(page, lambda: page.locator("#audit-results").count() > 0 and all_steps(), 90, interval_ms=2000)
    screenshot(page, "09-audit-trail", curated=True)
    page.locator("#audit-results tbody tr td:first-child a").first.click()
    _wait_for(page, lambda: page.locator("#proof-verified").count() > 0, 60, interval_ms=2000)
    assert page.locator("#proof-failed").count() == 0
    screenshot(page, "10-audit-proof-verified", curated=True)
    # the downloads for offline verification (fetched by the browser itself)
    fetch = "async (u) => { const r = await fetch(u); return [r.status, await r.text()]; }"
    status, proof = page.evaluate(fetch, page.url + "/proof.json")
    assert status == 200 and '"hashes"' in proof
    status, note = page.evaluate(fetch, page.url + "/checkpoint.txt")
    assert status == 200 and "\u2014 " in note


def test_provider_of_another_organisation_cannot_reach_the_case(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "provider.quimera", "/referrals")
    response = page.goto(platform.base_url + f"/referrals/{journey['referral_id']}")
    assert response.status == 404
    response = page.goto(platform.base_url + f"/cases/{journey['case_id']}")
    assert response.status in (403, 404)
    content = page.content()
    assert PHONE not in content and GIVEN not in content


def _register_cases_for_statistics(platform, count: int = 12) -> None:
    """More cases (through intake's API, as a caseworker) so that the charts have cells above the
    small-cell threshold: survivors who consented to de-identified statistics."""
    import httpx

    headers = {"Authorization": f"Bearer {platform.stack.token('caseworker.tulcan')}"}
    kinds = ["rape", "physical_assault", "psychological_abuse", "physical_assault", "denial_of_resources"]
    today = datetime.now(ECUADOR).date()
    for i in range(count):
        body = {"consent": {"given_by": "survivor", "given_at": datetime.now(UTC).isoformat(),
                            "registration": True, "reporting": True, "sharing": []},
                "profile": {"age_years": 20 + i, "sex": "female", "nationality": "VE" if i % 3 else "CO",
                            "mobility_status": "refugee", "province": "04", "canton": "0401"},
                "incident": {"occurred_on": (today - timedelta(days=3 + i)).isoformat(), "time_of_day": "morning",
                             "location_type": "street", "province": "04", "canton": "0401",
                             "gbvims_type": kinds[i % len(kinds)],
                             "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40",
                                              "relationship": "intimate_partner"}},
                "needs": ["psychosocial"], "risk": {"level": "low"}}
        r = httpx.post(platform.service_url("intake") + "/v1/cases", json=body, headers=headers, timeout=30)
        assert r.status_code == 201, r.text


def test_government_official_sees_statistics_but_no_case(platform, context_for):
    _register_cases_for_statistics(platform)
    page = context_for().new_page()
    sign_in(page, platform.base_url, "official.ministerio", "/statistics")
    assert page.locator("figure.chart").count() >= 3
    _wait_for(page, lambda: page.locator("figure.chart svg rect[fill='#0a4a82']").count() >= 2, 30)
    assert page.locator("details.data-table table").count() >= 1
    screenshot(page, "11-statistics", curated=True, full_page=False)
    response = page.goto(platform.base_url + f"/cases/{journey['case_id']}")
    assert response.status in (403, 404)
    assert PHONE not in page.content()


def test_supervisor_dashboard_and_a_data_subject_request(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "supervisor.tulcan", "/supervision")
    assert page.locator("#windows").is_visible()
    assert page.locator(f"#windows a[href='/cases/{journey['case_id']}']").count() == 1  # the open clinical window
    screenshot(page, "12-supervisor-dashboard", curated=True)
    page.goto(platform.base_url + f"/cases/{journey['case_id']}")
    code = re.search(r"[A-Z]{3}-[0-9]{4}-[0-9A-Z]{6}", page.locator("h1").inner_text()).group(0)
    page.goto(platform.base_url + "/dsr")
    page.fill("#f-code", code)
    page.click("form[role=search] button[type=submit]")
    page.click(f"a[href='/dsr/{journey['case_id']}']")
    fetch = "async (u) => { const r = await fetch(u); return [r.status, await r.text()]; }"
    status, export = page.evaluate(fetch, platform.base_url + f"/dsr/{journey['case_id']}/export")
    assert status == 200 and code in export and GIVEN in export  # her access right: everything held
    page.click(f"a[href='/dsr/{journey['case_id']}/rectify']")
    assert page.input_value("#f-identity-given_names") == GIVEN
    page.fill("#f-identity-family_names", "Quintero")
    page.click("form[action$='/rectify'] button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    page.click(f"a[href='/dsr/{journey['case_id']}/erase']")
    page.fill("#f-confirm_code", "WRONG-CODE")
    page.select_option("#f-reason", "data_subject_request")
    page.click("form[action$='/erase'] button[type=submit]")
    assert page.locator("#f-confirm_code-error").is_visible()  # the confirmation step holds: nothing erased


def test_directory_admin_manages_a_service(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "admin.directory", "/directory/admin")
    page.locator("a", has_text="Asesoría y patrocinio legal").first.click()
    assert page.input_value("#f-name-es") == "Asesoría y patrocinio legal"
    page.check("input[name=status][value=at_capacity]")
    page.click("form[action^='/directory/admin/services'] button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    row = page.locator("tr", has_text="Asesoría y patrocinio legal").first
    assert "Sin cupo" in row.inner_text()
    screenshot(page, "13-directory-admin")
    # put it back: the directory is shared with the other suites of this run
    page.locator("a", has_text="Asesoría y patrocinio legal").first.click()
    page.check("input[name=status][value=available]")
    page.click("form[action^='/directory/admin/services'] button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    assert "Sin cupo" not in page.locator("tr", has_text="Asesoría y patrocinio legal").first.inner_text()


def test_caseworker_changes_and_withdraws_consent_then_closes_the_case(platform, caseworker):
    page = caseworker
    page.goto(platform.base_url + f"/cases/{journey['case_id']}#consents")
    # a new consent: any legal-aid provider may receive her legal needs
    page.click("#consents details summary")
    page.select_option("#f-recipient", "type:legal_aid")
    page.check("#consents input[name=categories][value=legal_needs]")
    page.click("#consents form[action$='/consents'] button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    rows = page.locator("#consents tbody tr")
    assert rows.filter(has_text=re.compile("Asesoría legal|Legal aid")).count() >= 1
    # withdrawing the consent for Alas de Colibrí asks for confirmation, then takes effect
    alas = rows.filter(has_text="Alas de Colibrí").first
    alas.locator("a", has_text=re.compile("Retirar|Withdraw")).click()
    page.click("form[action$='/withdraw'] button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    alas = page.locator("#consents tbody tr").filter(has_text="Alas de Colibrí").first
    assert alas.locator(".tag.declined").count() == 1
    # close the case
    page.select_option("#f-closure_reason", "needs_met")
    page.click("#close button[type=submit]")
    assert page.locator(".flash.success").is_visible()
    assert page.locator("h1 .tag.closed").count() == 1


def test_page_weight_of_the_main_pages(platform, context_for):
    page = context_for().new_page()
    sign_in(page, platform.base_url, "caseworker.tulcan")
    report = {}
    for path in ("/", "/cases", f"/cases/{journey['case_id']}", "/notifications", "/directory"):
        fresh = page.context.browser.new_context(storage_state=page.context.storage_state())
        probe = fresh.new_page()
        weight = page_weight(probe, platform.base_url + path)
        fresh.close()
        report[path] = weight["total"]
    print("\npage weight (bytes on the wire, empty cache):")
    for path, total in report.items():
        print(f"  {path:60} {total:>8}")
    assert all(total < 150_000 for total in report.values()), report


def test_accessibility_of_the_main_pages(platform, context_for):
    source = axe_source()
    if source is None:
        pytest.skip("axe-core could not be fetched from the npm registry (the unit tests run our own checks)")
    page = context_for().new_page()
    sign_in(page, platform.base_url, "caseworker.tulcan")
    failures = {}
    for path in ("/", "/cases", "/cases/new", f"/cases/{journey['case_id']}", f"/cases/{journey['case_id']}/refer",
                 "/notifications", "/directory", "/profile"):
        page.goto(platform.base_url + path)
        violations = axe_violations(page, source)
        if violations:
            failures[path] = violations
    assert not failures, failures
    sign_out(page)


def test_signed_out_leaves_nothing_behind(platform, caseworker):
    page = caseworker
    sign_out(page)
    response = page.goto(platform.base_url + f"/cases/{journey['case_id']}")
    assert "/realms/careroute/" in page.url  # back at the identity provider's login
    assert response is not None
