"""Accessibility checks that need no browser (the browser journey also runs axe-core): the palette's
contrast (WCAG 2.1 AA), and on the rendered pages: lang, skip link, a label for every control,
alternative text, heading order, error summaries linked to their fields, no positive tabindex."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from frontend_testing import (
    BASE,
    CASE,
    CONSENTS,
    REFERRAL_STATS,
    SERVICE,
    STATS,
    client_for,
    csrf_of,
    sign_in_as,
)

pytestmark = pytest.mark.unit
CSS = Path(__file__).resolve().parents[2] / "src" / "careroute_frontend" / "static" / "css" / "app.css"


def _luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def palette() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})", CSS.read_text()))


@pytest.mark.parametrize("fg, bg, minimum", [
    ("ink", "paper", 4.5), ("ink", "wash", 4.5), ("muted", "paper", 4.5), ("muted", "wash", 4.5),
    ("brand", "paper", 4.5), ("brand", "wash", 4.5), ("brand-ink", "brand", 4.5), ("brand-ink", "brand-dark", 4.5),
    ("danger", "paper", 4.5), ("danger", "danger-wash", 4.5), ("warn-ink", "warn-wash", 4.5),
    ("ok", "ok-wash", 4.5), ("brand-dark", "info-wash", 4.5), ("ink", "info-wash", 4.5), ("ink", "danger-wash", 4.5),
    # focus indicator and form borders: non-text contrast (1.4.11) of 3:1
    ("ink", "paper", 3.0), ("focus", "brand", 3.0),
])
def test_palette_contrast_meets_wcag_aa(fg, bg, minimum):
    colours = palette()
    assert contrast(colours[fg], colours[bg]) >= minimum, (fg, bg, round(contrast(colours[fg], colours[bg]), 2))


def test_form_control_borders_are_visible():
    assert contrast("#5c6773", "#ffffff") >= 3.0


class PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html_lang = None
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.images: list[dict] = []
        self.headings: list[int] = []
        self.links: list[str] = []
        self.tabindex: list[str] = []
        self._label_depth = 0
        self.svgs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("tabindex") not in (None, "0", "-1"):
            self.tabindex.append(a["tabindex"])
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**a, "_tag": tag, "_wrapped": self._label_depth > 0})
        if tag == "img":
            self.images.append(a)
        if tag == "svg":
            self.svgs.append(a)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def check_page(html: str, path: str) -> None:
    page = audit(html)
    assert page.html_lang in ("es", "en"), path
    assert "main" in page.ids and "main" in page.links, f"{path}: skip link to #main"
    for control in page.controls:
        labelled = control["_wrapped"] or control.get("id") in page.label_for or control.get("aria-label") \
            or control.get("aria-labelledby")
        assert labelled, f"{path}: unlabelled {control['_tag']} {control.get('name')}"
    for image in page.images:
        assert "alt" in image, f"{path}: image without alt"
    for svg in page.svgs:
        assert svg.get("role") == "img" and svg.get("aria-labelledby"), f"{path}: chart without a text alternative"
    assert page.headings and page.headings[0] == 1 and page.headings.count(1) == 1, f"{path}: one h1 first"
    for before, after in zip(page.headings, page.headings[1:]):
        assert after <= before + 1, f"{path}: heading level skipped ({before} -> {after})"
    for target in page.links:
        assert target in page.ids, f"{path}: link to missing #{target}"
    assert not page.tabindex, f"{path}: positive tabindex breaks the focus order"


def test_main_pages_pass_the_checks(make_app, fake_services):
    fake_services.on("GET", "intake", r"/v1/cases/[^/]+", CASE, headers={"etag": 'W/"1"'})
    fake_services.on("GET", "intake", r"/v1/cases/[^/]+/consents", {"items": CONSENTS})
    fake_services.on("GET", "referral", r"/v1/directory/services", {"items": [SERVICE], "total": 1})
    fake_services.on("GET", "intake", r"/v1/statistics/incidents", STATS)
    fake_services.on("GET", "referral", r"/v1/statistics/referrals", REFERRAL_STATS)
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app, roles=("caseworker", "supervisor", "government-official", "auditor", "directory-admin"))
    new = client.get("/cases/new").headers["location"]
    paths = ["/", "/cases", new, new.replace("consent", "survivor"), new.replace("consent", "incident"),
             new.replace("consent", "risk"), new.replace("consent", "needs"), new.replace("consent", "review"),
             "/cases/c-1", "/cases/c-1/refer", "/notifications", "/profile", "/directory", "/directory/admin",
             "/directory/admin/services/new", "/directory/admin/organisations/new", "/statistics", "/audit",
             "/supervision", "/dsr", "/signed-out"]
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        check_page(r.text, path)


def test_error_summary_links_each_message_to_its_field(make_app):
    app = make_app()
    client = client_for(app)
    sign_in_as(client, app)
    step = client.get("/cases/new").headers["location"].replace("consent", "survivor")
    page = client.get(step)
    r = client.post(step, data={"csrf_token": csrf_of(page.text), "survivor.given_names": "Ana", "go": "next"},
                    headers={"origin": BASE})
    assert r.status_code == 422
    check_page(r.text, step)
    html = r.text
    assert 'class="error-summary" role="alert"' in html and "data-focus-on-load" in html
    for target in re.findall(r'<a href="#(f-[^"]+)">', html):
        assert f'id="{target}"' in html
        # the field says it is invalid and points at its message
        assert re.search(rf'id="{target}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{target}"', html) or \
            f'id="{target}-error"' in html
    assert 'value="Ana"' in html  # what was typed is kept
