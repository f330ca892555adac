"""Spanish first, English one click away, and every label in both catalogues."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from frontend_testing import BASE, client_for, csrf_of, sign_in_as

from careroute_frontend import i18n, i18n_tool, labels

pytestmark = pytest.mark.unit


def test_every_message_in_templates_and_code_is_translated_in_both_languages():
    missing = i18n_tool.check()
    assert missing == {"es": [], "en": []}, missing


def test_the_extraction_sees_the_templates():
    catalog = i18n_tool.extract()
    ids = {m.id for m in catalog if m.id}
    assert "Register a case" in ids                 # a navigation label (Python)
    assert "Clinical window open: act now" in ids   # a template string
    assert ("service_type", "Psychosocial support") in {(m.context, m.id) for m in catalog if m.context}
    templates = Path(i18n_tool.PACKAGE / "templates")
    assert len(list(templates.rglob("*.html"))) > 20


def test_catalogues_are_valid_and_have_no_fuzzy_or_stale_entries():
    for locale in i18n.LOCALES:
        with i18n_tool.po_path(locale).open("rb") as fp:
            catalog = read_po(fp, locale=locale)
        assert not [m.id for m in catalog if m.fuzzy and m.id]
        for message in catalog:
            if message.id and isinstance(message.id, str) and "%(" in message.id:
                # the same placeholders on both sides, or formatting breaks at run time
                import re
                assert sorted(re.findall(r"%\((\w+)\)s", message.id)) == \
                    sorted(re.findall(r"%\((\w+)\)s", message.string)), message.id


def test_spanish_is_the_default_and_english_is_one_click_away(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    page = client.get("/")
    assert '<html lang="es">' in page.text and "Registrar un caso" in page.text
    assert page.headers["content-language"] == "es"
    r = client.post("/lang", data={"lang": "en", "next": "/cases/new", "csrf_token": csrf_of(page.text)},
                    headers={"origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/cases/new"
    assert "careroute_lang=en" in r.headers["set-cookie"]
    page = client.get("/")
    assert '<html lang="en">' in page.text and "Register a case" in page.text


def test_the_users_own_locale_from_the_idp_is_used(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, username="provider.quimera", roles=("service-provider",),
               groups=("/civil-society/quimera",), locale="en")
    assert '<html lang="en">' in client.get("/").text


def test_labels_cover_the_services_vocabularies():
    """A code added to a service's vocabulary must get a label here (and thus translations)."""
    checks = [("intake.domain.vocabulary", "VOCABULARIES", None)]
    for module_name, attr, _ in checks:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            pytest.skip(f"{module_name} not installed")
        for name, enum in getattr(module, attr).items():
            assert name in labels.VOCABULARIES, name
            missing = {m.value for m in enum} - set(labels.VOCABULARIES[name])
            assert not missing, (name, missing)
    try:
        from referral.domain import vocabulary as ref
    except ImportError:
        return
    for name in ("priority", "referral_status", "decline_reason", "close_reason", "outcome", "service_status"):
        assert set(ref.LABELS[name]) <= set(labels.VOCABULARIES[name]), name


def test_labels_render_in_both_languages():
    assert labels.label("service_type", "psychosocial", "es") == "Apoyo psicosocial"
    assert labels.label("service_type", "psychosocial", "en") == "Psychosocial support"
    # the same English word, different Spanish forms by context
    assert labels.label("ethnicity", "other", "es") == "Otra"
    assert labels.label("location_type", "other", "es") == "Otro"
    assert labels.label("priority", "unknown-code", "es") == "unknown-code"
