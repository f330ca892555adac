"""Helpers for the frontend's tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from fastapi.testclient import TestClient

from careroute_frontend.sessions import Tokens, User
from careroute_frontend.settings import FrontendSettings

BASE = "http://127.0.0.1:8080"
FAKE_ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-access-token-for-tests.c2lnbmF0dXJl"
FAKE_REFRESH_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-refresh-token-for-tests.c2lnbmF0dXJl"
FAKE_ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-id-token-for-tests.c2lnbmF0dXJl"
SERVICE_HOSTS = {"intake": "http://intake.test", "referral": "http://referral.test", "notify": "http://notify.test",
                 "audit": "http://audit.test"}


@dataclass
class FakeServices:
    """Answers the frontend's calls to the services from registered routes; records them all."""

    routes: list = field(default_factory=list)
    calls: list = field(default_factory=list)

    def on(self, method: str, service: str, pattern: str, answer: Callable | dict | list | int, status: int = 200,
           headers: dict | None = None) -> None:
        self.routes.insert(0, (method.upper(), SERVICE_HOSTS[service], re.compile(pattern + "$"), answer, status,
                               headers or {}))

    def handler(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.host}"
        self.calls.append(request)
        for method, host, pattern, answer, status, headers in self.routes:
            if method == request.method and host == origin and pattern.match(request.url.path):
                if callable(answer):
                    result = answer(request)
                    if isinstance(result, httpx.Response):
                        return result
                    return httpx.Response(status, json=result, headers=headers)
                if isinstance(answer, int):
                    return httpx.Response(answer)
                return httpx.Response(status, json=answer, headers=headers)
        # defaults that keep every page renderable
        path = request.url.path
        if path.endswith("/unread-count"):
            return httpx.Response(200, json={"unread": 0})
        if request.method == "GET":
            return httpx.Response(200, json={"items": [], "total": 0, "limit": 20, "offset": 0})
        return httpx.Response(404, json={"type": "about:blank", "title": "Not found", "status": 404})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def called(self, method: str, path_fragment: str) -> list[httpx.Request]:
        return [c for c in self.calls if c.method == method and path_fragment in c.url.path]


class NoIdp:
    """OIDC stand-in for unit tests: nothing reaches an identity provider."""

    def __init__(self, settings):
        self.settings = settings
        self.revoked = []
        self.refreshed = 0

    def ready(self) -> bool:
        return True

    def revoke(self, tokens) -> None:
        self.revoked.append(tokens)

    def refresh(self, tokens):
        self.refreshed += 1
        new = Tokens(access_token=FAKE_ACCESS_TOKEN + "-refreshed", refresh_token=tokens.refresh_token,
                     id_token=tokens.id_token, access_expires_at=time.time() + 300, refresh_expires_at=None)
        return new, User("sub-1", "caseworker.tulcan", "Test Caseworker", frozenset({"caseworker"}), ("/iom/tulcan",))

    def begin(self, return_to, **kwargs):
        from careroute_frontend.sessions import LoginTransaction

        tx = LoginTransaction("state-1", "nonce-1", "verifier" * 6, return_to, time.time())
        return tx, "http://idp.test/auth?state=state-1"

    def end_session_url(self, id_token, locale=None) -> str:
        return "http://idp.test/logout?id_token_hint=present"


def settings_for(**overrides) -> FrontendSettings:
    values = {f"{k}_url": v for k, v in SERVICE_HOSTS.items()}
    values.update(public_base_url=BASE, oidc_issuer="http://idp.test/realms/careroute")
    values.update(overrides)
    return FrontendSettings(**values)


def client_for(app, base_url: str = BASE) -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False)


def sign_in_as(client: TestClient, app, username: str = "caseworker.tulcan", roles=("caseworker",),
               groups=("/iom/tulcan",), locale: str | None = None):
    st = app.state.frontend
    session = st.store.create()
    session.user = User(subject=f"sub-{username}", username=username, name=username.replace(".", " ").title(),
                        roles=frozenset(roles), groups=tuple(groups), locale=locale)
    session.tokens = Tokens(access_token=FAKE_ACCESS_TOKEN, refresh_token=FAKE_REFRESH_TOKEN, id_token=FAKE_ID_TOKEN,
                            access_expires_at=time.time() + 300, refresh_expires_at=time.time() + 1800)
    st.store.save(session)
    client.cookies.set(st.settings.session_cookie_name, session.id)
    return session


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def idp_login(client: TestClient, username: str, password: str = "careroute-dev", next_path: str = "/"):
    """The real authorization-code flow: our /auth/start, the IdP's login form, our callback."""
    r = client.get(f"/auth/start?next={next_path}")
    assert r.status_code == 303, r.text
    idp = httpx.Client(follow_redirects=False, timeout=10)
    page = idp.get(r.headers["location"])
    action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    answer = idp.post(httpx.URL(str(page.url)).join(action),
                      data={**fields, "username": username, "password": password})
    assert answer.status_code == 302, answer.text[:500]
    callback = answer.headers["location"]
    assert callback.startswith(BASE + "/auth/callback"), callback
    result = client.get(callback.removeprefix(BASE))
    return result, idp


def problem(status: int, detail: str = "", **extra) -> httpx.Response:
    body = {"type": "https://careroute.iom.int/problems/x", "title": "t", "status": status, "detail": detail, **extra}
    return httpx.Response(status, content=json.dumps(body), headers={"content-type": "application/problem+json"})


# -- answers the fake services give (shapes of the real APIs) --------------------------------------
CASE = {"id": "c-1", "survivor_code": "TUL-2026-7K3M9Q", "office": "/iom/tulcan", "caseworker": "sub",
        "status": "open", "risk_level": "high", "needs": ["psychosocial"], "created_at": "2026-01-01T10:00:00Z",
        "updated_at": "2026-01-01T10:00:00Z", "version": 1, "registered_by_office": "/iom/tulcan",
        "closure_reason": None, "safety_plan_in_place": True, "safety_plan": "Plan", "reporting_consent": True,
        "closed_at": None,
        "clinical_window": {"incident_id": "i-1", "incident_at": "2026-01-01T05:00:00Z",
                            "pep_deadline": "2099-01-04T05:00:00Z", "ec_deadline": "2099-01-06T05:00:00Z",
                            "pep_open": True, "ec_open": True},
        "profile": {"age_years": 29, "age_band": "26_40", "sex": "female", "gender_identity": None,
                    "nationality": "VE", "ethnicity": None, "mobility_status": "refugee", "disability": [],
                    "languages": ["es"], "province": "04", "canton": "0401"},
        "incidents": [{"id": "i-1", "occurred_on": "2026-01-01", "time_of_day": "evening", "local_time": None,
                       "location_type": "street", "province": "04", "canton": "0401", "gbvims_type": "rape",
                       "context_flags": [], "legal_types": ["sexual"], "sexual_violence": True,
                       "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40", "relationship": "no_relation"},
                       "reported_to": [], "recorded_by": "sub", "recorded_at": "2026-01-01T10:00:00Z"}]}
CONSENTS = [{"id": "k-1", "purpose": "sharing", "given_by": "survivor", "given_at": "2026-01-01T10:00:00Z",
             "recipient_organisation": "/civil-society/alas-de-colibri", "recipient_service_type": None,
             "categories": ["contact_details", "psychosocial_needs"], "reporting": False, "active": True,
             "withdrawn_at": None, "superseded_at": None}]
SERVICE = {"id": "s-1", "service_type": "psychosocial", "name": {"es": "Acompañamiento psicosocial", "en": "Psychosocial"},
           "organisation": {"id": "o-1", "group_path": "/civil-society/alas-de-colibri", "kind": "civil-society",
                            "name": {"es": "Fundación Alas de Colibrí", "en": "Alas de Colibrí Foundation"},
                            "status": "active"},
           "description": {"es": "d", "en": "d"}, "status": "available", "accepts_referrals": True,
           "open_now": True, "languages": ["es"], "locations": [{"name": "Tulcán", "canton": "Tulcán"}],
           "hours": {"open_24_7": False, "weekly": [{"weekday": 0, "opens_at": "08:30", "closes_at": "16:30"}]}}
STATS = {"group_by": ["incident_type"], "min_cell": 5, "total": 12,
         "cells": [{"key": {"incident_type": "rape", "month": "2026-01", "province": "04"}, "count": 7,
                    "suppressed": False},
                   {"key": {"incident_type": "sexual_assault", "month": "2026-02", "province": "10"}, "count": None,
                    "suppressed": True}]}
REFERRAL_STATS = {"min_cell": 5, "total_referrals": 20, "acceptance_rate": 0.8, "completion_rate": 0.5,
                  "by_service_type": [{"service_type": "psychosocial", "referrals": 12, "suppressed": False},
                                      {"service_type": "legal_aid", "referrals": None, "suppressed": True}],
                  "time_to_first_answer": [{"priority": "urgent", "referrals": 10, "answered": 9,
                                            "median_hours_to_first_answer": 20.5,
                                            "answered_within_window_rate": 0.9}],
                  "sexual_violence": {"referrals": 6, "answered_within_72h_rate": 0.83,
                                      "answered_within_120h_rate": 1.0},
                  "by_canton": [], "by_organisation": [], "unmet_needs": []}
