"""Helpers for the browser journey: signing in through the identity provider's real login page,
screenshots (all under artifacts/screenshots/, a curated few copied to docs/screenshots/), page
weight and the accessibility checks."""
from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
from pathlib import Path

from careroute_devstack.stack import DEV_PASSWORD, ROOT

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CURATED = ROOT / "docs" / "screenshots"
AXE_CACHE = ROOT / "artifacts" / "vendor"
AXE_VERSION = "4.10.3"


def sign_in(page, base_url: str, username: str, path: str = "/") -> None:
    page.goto(base_url + path)
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEV_PASSWORD)
    page.locator("form").last.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_url(re.compile(r"^http://localhost:8080/"))
    page.wait_for_load_state("domcontentloaded")


def sign_out(page) -> None:
    """RP-initiated logout: our session ends, then the identity provider's, then back to /signed-out."""
    page.locator("form[action='/logout'] button").click()
    page.wait_for_url(re.compile(r"/signed-out$"))


def screenshot(page, name: str, *, curated: bool = False, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    # docs/screenshots/ is committed: refresh it only when asked (make screenshots), so that a
    # test run leaves the working tree clean
    if curated and os.environ.get("CAREROUTE_UPDATE_SCREENSHOTS"):
        CURATED.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, CURATED / f"{name}.png")
    return path


def page_weight(page, url: str) -> dict:
    """Bytes transferred to show `url` with an empty cache (HTML + CSS + JS + images), as measured by
    the browser's resource timing (compressed sizes on the wire)."""
    page.goto(url)
    page.wait_for_load_state("load")
    return page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        const out = {document: nav.transferSize || nav.encodedBodySize, resources: {}};
        for (const r of res) { out.resources[r.name] = r.transferSize || r.encodedBodySize; }
        out.total = out.document + Object.values(out.resources).reduce((a, b) => a + b, 0);
        return out;
    }""")


def axe_source() -> str | None:
    """axe-core from the npm registry (cached under artifacts/); None when npm is unavailable."""
    target = AXE_CACHE / f"axe-core-{AXE_VERSION}.min.js"
    if target.exists():
        return target.read_text()
    npm = shutil.which("npm")
    if npm is None:
        return None
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=AXE_CACHE, check=True,
                             capture_output=True, text=True, timeout=120)
        tarball = AXE_CACHE / out.stdout.strip().splitlines()[-1]
        subprocess.run(["tar", "-xzf", str(tarball), "-C", str(AXE_CACHE), "package/axe.min.js"], check=True,
                       timeout=60)
        (AXE_CACHE / "package" / "axe.min.js").rename(target)
        (AXE_CACHE / "package").rmdir()
        tarball.unlink(missing_ok=True)
    except (subprocess.SubprocessError, OSError, IndexError):
        return None
    return target.read_text()


def axe_violations(page, source: str) -> list[dict]:
    """Run axe-core's WCAG 2.0/2.1 A and AA rules on the current page. The script is added through
    Playwright (CDP), which the page's Content-Security-Policy does not govern."""
    page.evaluate(source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return json.loads(json.dumps(result))
