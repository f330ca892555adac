import pytest

from notify.settings import NotifySettings

pytestmark = pytest.mark.unit


def test_production_refuses_unsafe_settings(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("NOTIFY_"):
            monkeypatch.delenv(name)
    with pytest.raises(ValueError):
        NotifySettings(environment="production", smtp_starttls=True)                     # dev secrets key
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    with pytest.raises(ValueError):
        NotifySettings(environment="production", secrets_key=key)                         # mail without TLS
    with pytest.raises(ValueError):
        NotifySettings(environment="production", secrets_key=key, smtp_starttls=True, webhook_allow_http=True)
    s = NotifySettings(environment="production", secrets_key=key, smtp_starttls=True,
                       oidc_issuer="https://id.example.org/realms/careroute")
    assert not s.http_webhooks_allowed
    assert s.directory_base_url == "https://id.example.org/" and s.directory_realm_name == "careroute"
