"""Webhooks to institutional systems: signatures, retries, disabling, dead letters and replays, secret
rotation, the SSRF guard, and who may administer which endpoints."""
from __future__ import annotations

import contextlib

import pytest

from careroute_devstack.testing import wait_for
from careroute_platform.runtime import ServiceRuntime
from notify.adapters.orm import metadata

pytestmark = pytest.mark.integration

MSP = "/government/msp/hospital-tulcan"


@contextlib.contextmanager
def tuned(notify, **values):
    """Change settings the running workers read, for one test."""
    old = {k: getattr(notify.settings, k) for k in values}
    for k, v in values.items():
        setattr(notify.settings, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(notify.settings, k, v)


def deliveries(notify, headers, endpoint_id, **params):
    r = notify.client.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", headers=headers,
                          params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def delivery_of(notify, headers, endpoint_id, referral_id, status=None, timeout=30):
    def look():
        for d in deliveries(notify, headers, endpoint_id):
            if d["payload"]["data"].get("referral_id") == referral_id and (status is None or d["status"] == status):
                return d
        return None
    return wait_for(look, timeout, interval=0.2, message=f"a {status or ''} delivery")


def test_a_failing_receiver_is_retried_until_it_succeeds(notify, events, publish, receiver, register_endpoint,
                                                         msp_system, verify_signature):
    endpoint = register_endpoint(receiver.url("/flaky"), ["referral.created"])
    receiver.flaky["/flaky"] = 2
    event = publish(events.referral("created", receiving_organisation=MSP))
    d = delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"], status="delivered")
    got = [r for r in receiver.at("/flaky") if event.data["referral_id"].encode() in r.body]
    assert len(got) == 3 and len({r.headers["webhook-id"] for r in got}) == 1   # same id on every retry
    verify_signature(got[-1], [endpoint["secret"]])
    log = notify.client.get(f"/v1/webhooks/deliveries/{d['id']}", headers=msp_system()).json()["attempt_log"]
    assert [a["outcome"] for a in log] == ["http_error", "http_error", "success"]
    assert [a["status_code"] for a in log] == [500, 500, 204] and log[0]["error_class"] == "http_5xx"
    assert all("body" not in a for a in log)


def test_a_long_outage_disables_the_endpoint_tells_the_organisation_and_resumes_when_re_enabled(
        notify, events, publish, receiver, register_endpoint, msp_system, inbox_of, mail_for, kafka_tap):
    endpoint = register_endpoint(receiver.url("/down"), ["referral.created"])
    receiver.failing.add("/down")
    with tuned(notify, webhook_disable_after_failures=3, webhook_disable_after_seconds=0.0):
        event = publish(events.referral("created", receiving_organisation=MSP))

        def disabled():
            r = notify.client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system()).json()
            return r if r["status"] == "disabled" else None
        state = wait_for(disabled, 30, interval=0.2, message="the endpoint disabled")
    assert state["disabled_reason"] == "consecutive-failures" and state["consecutive_failures"] >= 3

    # the organisation's webhook administrators are told: inbox entry and e-mail
    notice = wait_for(lambda: next((i for i in inbox_of("official.msp") if i["kind"] == "webhook_endpoint_disabled"
                                    and i["params"]["endpoint_id"] == endpoint["id"]), None), 30)
    mail_for("official.msp@example.org", notice["reference"])
    # ... and the event is on the broker for the audit log
    published = wait_for(lambda: [e for e in kafka_tap.events(["careroute.notification"])
                                  if e.data.get("endpoint_id") == endpoint["id"]], 30)
    assert published[0].type == "org.iom.careroute.webhook.endpoint_disabled.v1"

    # while disabled nothing is sent; once fixed and re-enabled, the held delivery goes out
    receiver.failing.discard("/down")
    etag = notify.client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system()).headers["etag"]
    r = notify.client.patch(f"/v1/webhooks/endpoints/{endpoint['id']}", json={"status": "active"},
                            headers={**msp_system(), "if-match": etag})
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["consecutive_failures"] == 0
    delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"], status="delivered")


def test_after_the_retry_horizon_a_delivery_is_dead_visible_and_replayable(notify, events, publish, receiver,
                                                                           register_endpoint, msp_system):
    endpoint = register_endpoint(receiver.url("/gone-for-hours"), ["referral.created"])
    receiver.failing.add("/gone-for-hours")
    with tuned(notify, webhook_retry_horizon_seconds=1.0, webhook_disable_after_failures=1000):
        event = publish(events.referral("created", receiving_organisation=MSP))
        dead = delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"], status="dead")
    assert dead["attempts"] >= 2 and dead["last_error"] == "http_5xx"
    assert [d["id"] for d in deliveries(notify, msp_system(), endpoint["id"], status="dead")] == [dead["id"]]
    receiver.failing.discard("/gone-for-hours")
    r = notify.client.post(f"/v1/webhooks/deliveries/{dead['id']}/replay", headers=msp_system())
    assert r.status_code == 202 and r.json()["status"] == "pending"
    delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"], status="delivered")


def test_slow_receivers_time_out_and_redirects_are_not_followed(notify, events, publish, receiver,
                                                                register_endpoint, msp_system):
    slow = register_endpoint(receiver.url("/slow"), ["referral.created"])
    redirecting = register_endpoint(receiver.url("/redirect"), ["referral.created"])
    with tuned(notify, webhook_timeout_seconds=0.5, webhook_disable_after_failures=1000):
        receiver.slow_seconds = 2.0
        event = publish(events.referral("created", receiving_organisation=MSP))
        for endpoint, outcome in ((slow, "timeout"), (redirecting, "redirect_refused")):
            d = delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"])

            def attempted():
                log = notify.client.get(f"/v1/webhooks/deliveries/{d['id']}", headers=msp_system()).json()
                return log["attempt_log"] or None
            assert wait_for(attempted, 30)[0]["outcome"] == outcome
    assert receiver.at("/redirect-target") == []  # never followed
    for endpoint in (slow, redirecting):  # stop them retrying for the rest of the run
        notify.client.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system())


def test_rotated_secret_signs_with_both_secrets(notify, events, publish, receiver, register_endpoint, msp_system,
                                                verify_signature):
    endpoint = register_endpoint(receiver.url("/rotating"), ["referral.created"])
    r = notify.client.post(f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret", headers=msp_system())
    assert r.status_code == 200 and r.json()["secret"] != endpoint["secret"]
    assert r.json()["previous_secret_expires_at"]
    event = publish(events.referral("created", receiving_organisation=MSP))
    got = wait_for(lambda: next((x for x in receiver.at("/rotating") if event.data["referral_id"].encode() in x.body),
                                None), 30)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    verify_signature(got, [endpoint["secret"], r.json()["secret"]])


def test_only_the_organisations_own_referrals_reach_its_endpoints(notify, events, publish, receiver,
                                                                  register_endpoint, msp_system):
    endpoint = register_endpoint(receiver.url("/own-only"), ["referral.created"])
    other = publish(events.referral("created", receiving_organisation="/civil-society/hias"))
    own = publish(events.referral("created", receiving_organisation=MSP))
    delivery_of(notify, msp_system(), endpoint["id"], own.data["referral_id"], status="delivered")
    assert not [x for x in receiver.at("/own-only") if other.data["referral_id"].encode() in x.body]


def test_dangerous_targets_are_refused(notify, msp_system):
    def runtime_with(**changes):
        settings = notify.settings.model_copy(update=changes)
        runtime = ServiceRuntime(settings, metadata)
        from fastapi.testclient import TestClient

        return TestClient(notify.definition.create_app(runtime), raise_server_exceptions=False)

    def refused(client, url):
        r = client.post("/v1/webhooks/endpoints", headers=msp_system(),
                        json={"url": url, "event_types": ["referral.created"]})
        assert r.status_code == 422, r.text
        assert r.json()["type"].endswith("/webhook-target-refused") and url not in r.text
        return r.json()["reason"]

    production = runtime_with(environment="production", webhook_allowed_networks=[])
    assert refused(production, "http://hooks.example.org/care-route") == "https-required"
    assert refused(production, "https://10.0.0.8/hook") == "private-address"
    assert refused(production, "https://169.254.169.254/latest/meta-data/") == "metadata-address"
    assert refused(production, "https://localhost:8443/") == "private-address"
    assert refused(production, "https://user:secret@hooks.example.org/") == "credentials-in-url"
    no_allow_list = runtime_with(webhook_allowed_networks=[])
    assert refused(no_allow_list, "http://localhost:9/hook") == "private-address"
    assert refused(no_allow_list, "http://127.0.0.1:9/hook") == "private-address"
    assert refused(no_allow_list, "http://[::1]:9/hook") == "private-address"
    # even allow-listed, the metadata address stays out
    wide = runtime_with(webhook_allowed_networks=["169.254.0.0/16"])
    assert refused(wide, "http://169.254.169.254/") == "metadata-address"


def test_a_target_that_turns_private_after_registration_is_refused_at_send_time(notify, events, publish, receiver,
                                                                                 register_endpoint, msp_system):
    """Registered while loopback was allowed; when the send-time check no longer allows it (as after a DNS
    rebinding to an internal address), the attempt is refused and nothing is sent."""
    endpoint = register_endpoint(receiver.url("/rebound"), ["referral.created"])
    with tuned(notify, webhook_allowed_networks=[], webhook_disable_after_failures=1000):
        event = publish(events.referral("created", receiving_organisation=MSP))
        d = delivery_of(notify, msp_system(), endpoint["id"], event.data["referral_id"])

        def attempted():
            return notify.client.get(f"/v1/webhooks/deliveries/{d['id']}", headers=msp_system()).json()[
                "attempt_log"] or None
        first = wait_for(attempted, 30)[0]
        assert not [x for x in receiver.at("/rebound") if event.data["referral_id"].encode() in x.body]
        notify.client.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=msp_system())
    assert first["outcome"] == "refused_target" and first["error_class"] == "private-address"


def test_webhook_administration_is_refused_outside_ones_own_organisation(notify, stack, register_endpoint,
                                                                         receiver, msp_system):
    endpoint = register_endpoint(receiver.url("/admin-check"), ["referral.overdue"])
    path = f"/v1/webhooks/endpoints/{endpoint['id']}"
    # no token
    assert notify.client.get("/v1/webhooks/endpoints").status_code == 401
    assert notify.client.post("/v1/webhooks/endpoints", json={}).status_code == 401
    # a role that does not administer webhooks
    r = notify.call("POST", "/v1/webhooks/endpoints", user="caseworker.tulcan",
                    json={"url": "https://hooks.example.org/x", "event_types": ["referral.created"]})
    assert r.status_code == 403
    # administrators of other organisations: the endpoint does not exist for them
    fiscalia = {"Authorization": f"Bearer {stack.client_token('fiscalia-carchi-system')}"}
    for headers in (fiscalia, stack.auth("supervisor.tulcan")):
        assert notify.client.get(path, headers=headers).status_code == 404
        assert notify.client.get(path + "/deliveries", headers=headers).status_code == 404
        assert notify.client.post(path + "/rotate-secret", headers=headers).status_code == 404
        assert notify.client.delete(path, headers=headers).status_code == 404
        listed = notify.client.get("/v1/webhooks/endpoints", headers=headers).json()["items"]
        assert endpoint["id"] not in [e["id"] for e in listed]
    assert notify.client.get("/v1/webhooks/endpoints/not-a-uuid", headers=fiscalia).status_code == 404
    # the owner sees it, never its secret again
    r = notify.client.get(path, headers=msp_system())
    assert r.status_code == 200 and "secret" not in r.json() and r.headers["etag"]
    # a stale or missing If-Match
    assert notify.client.patch(path, json={"status": "disabled"}, headers=msp_system()).status_code == 428
    assert notify.client.patch(path, json={"status": "disabled"},
                               headers={**msp_system(), "if-match": 'W/"999"'}).status_code == 412


def test_bad_webhook_input_is_refused_without_echo(notify, msp_system):
    marker = "ZZ-ECHO-MARIA-PEREZ"
    cases = [{"url": f"https://hooks.example.org/{marker}", "event_types": [marker]},
             {"url": "https://hooks.example.org/x", "event_types": []},
             {"url": "https://hooks.example.org/x", "event_types": ["referral.created"], "note": marker},
             {"url": marker, "event_types": ["referral.created"]}]
    for body in cases:
        r = notify.client.post("/v1/webhooks/endpoints", headers=msp_system(), json=body)
        assert r.status_code == 422 and marker not in r.text
        assert r.headers["content-type"].startswith("application/problem+json")


def test_idempotent_registration_does_not_repeat_the_secret(notify, msp_system, receiver):
    headers = {**msp_system(), "idempotency-key": "register-once-1"}
    body = {"url": receiver.url("/idem"), "event_types": ["referral.closed"]}
    first = notify.client.post("/v1/webhooks/endpoints", headers=headers, json=body)
    second = notify.client.post("/v1/webhooks/endpoints", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and first.json()["secret"] and second.json()["secret"] is None
