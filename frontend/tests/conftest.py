"""Fixtures for the frontend's tests (helpers in frontend_testing.py, beside this file).

- `make_app(...)`: the frontend in-process, its services answered by `FakeServices` (an httpx
  MockTransport that records every call) — unit tests need no running service.
- `sign_in_as(client, app, ...)`: a signed-in session put straight into the session store (unit
  tests of pages); the real login against the development IdP is tested in test_login_flow.py.
- `idp_login(client, username)`: drives the real identity provider's login form (integration).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from frontend_testing import SERVICE_HOSTS, FakeServices, NoIdp, settings_for

from careroute_frontend.app import create_app
from careroute_frontend.clients import Services


@pytest.fixture
def fake_services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def make_app(fake_services):
    def build(oidc=None, **overrides):
        settings = settings_for(**overrides)
        services = Services({s: settings.service_url(s) for s in SERVICE_HOSTS}, transport=fake_services.transport())
        app = create_app(settings, oidc=oidc or NoIdp(settings), services=services)
        return app
    return build


