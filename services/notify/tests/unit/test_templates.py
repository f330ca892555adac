"""E-mail templates: both languages, both parts, autoescaping, and the visible fallback."""
import logging
from datetime import datetime, timezone

import pytest

from notify.adapters.templates import NoticeView, Renderer, TemplateMissing
from notify.domain.kinds import Kind

pytestmark = pytest.mark.unit

DUE = datetime(2025, 11, 12, 19, 0, tzinfo=timezone.utc)


def view(kind=Kind.REFERRAL_RECEIVED, **over):
    base = dict(kind=str(kind), reference="REF-AB12CD34", link="https://careroute.example/referrals/1",
                priority="emergency", mandatory=True, deadline=DUE, params={"service_type": "health_cmr"})
    base.update(over)
    return NoticeView(**base)


def test_every_kind_renders_in_both_languages_with_both_parts():
    r = Renderer()
    params = {"service_type": "legal_aid", "reason_code": "no_capacity", "outcome_code": "needs_met",
              "rule": "off-hours-access", "count": "3", "window_seconds": "3600", "failures": "5",
              "other_reference": "CASE-1", "categories": "health_needs"}
    for kind in Kind:
        for locale in ("es", "en"):
            out = r.render(view(kind, params=params), locale)
            assert out.locale == locale and out.subject and "\n" not in out.subject
            assert "https://careroute.example/referrals/1" in out.text and 'href="https://careroute.example' in out.html
            assert f'lang="{locale}"' in out.html


def test_spanish_and_english_wording_and_ecuador_time():
    r = Renderer()
    es, en = r.render(view(), "es"), r.render(view(), "en")
    assert es.subject.startswith("[EMERGENCIA] Nueva referencia REF-AB12CD34")
    assert en.subject.startswith("[EMERGENCY] New referral REF-AB12CD34")
    assert "14:00" in es.text and "hora de Ecuador" in es.text   # 19:00 UTC is 14:00 in Guayaquil
    assert "Ecuador time" in en.text


def test_html_part_escapes_what_it_renders():
    out = Renderer().render(view(reference="<script>alert(1)</script>"), "es")
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html


def test_missing_translation_falls_back_to_the_other_language_with_a_warning(tmp_path, caplog):
    # an operator's override directory adds a kind in Spanish only
    (tmp_path / "email" / "es").mkdir(parents=True)
    (tmp_path / "email" / "es" / "custom_notice.j2").write_text(
        "{% block subject %}Aviso {{ reference }}{% endblock %}{% block summary %}Hola.{% endblock %}")
    r = Renderer(overrides_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="notify.adapters.templates"):
        out = r.render(view(kind="custom_notice", priority=None, mandatory=False), "en")
    assert out.locale == "es" and out.subject == "Aviso REF-AB12CD34"
    record = next(rec for rec in caplog.records if getattr(rec, "missing_locale", None))
    assert record.missing_locale == "en" and record.kind == "custom_notice"


def test_a_kind_without_any_template_is_reported():
    with pytest.raises(TemplateMissing):
        Renderer().render(view(kind="no_such_kind"), "es")
