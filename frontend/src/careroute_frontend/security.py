"""Request-level defences: same-origin return paths (no open redirect), the CSRF synchronizer token
and the Origin check, and the Content-Security-Policy."""
from __future__ import annotations

import re
import secrets
from urllib.parse import unquote, urlsplit


def content_security_policy(idp_origin: str | None = None) -> str:
    """Everything from our own origin, nothing inline. `form-action` also names the identity
    provider: browsers check it on the redirects after a form post, and signing out is a form post
    that ends at the IdP's end-session endpoint."""
    form_action = "'self'" + (f" {idp_origin}" if idp_origin else "")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            f"connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'")


CSP = content_security_policy()

HTML_SECURITY_HEADERS = {
    "content-security-policy": CSP,
    # same-origin (not no-referrer): with no-referrer, browsers send `Origin: null` on form posts
    # and the Origin check could not tell our own forms from a forgery.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_return_path(candidate: str | None, default: str = "/") -> str:
    """Only a same-origin, relative path: '/cases/1?tab=x'. Anything with a scheme, a host,
    '//' (protocol-relative), backslashes or control characters falls back to `default`."""
    if not candidate or len(candidate) > 2000:
        return default
    decoded = unquote(candidate)
    if _CONTROL.search(candidate) or _CONTROL.search(decoded):
        return default
    if not candidate.startswith("/") or candidate.startswith("//") or decoded.startswith("//"):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return default
    if parts.path.startswith(("/auth/", "/login", "/logout", "/lock", "/signed-out", "/static/")):
        return default
    return candidate


def same_origin_referer_path(referer: str | None, origin: str) -> str | None:
    if not referer:
        return None
    parts = urlsplit(referer)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_return_path(path, default="") or None


def origin_allowed(headers, public_origin: str) -> bool:
    """The Origin header (or, without it, the Referer) must name our own origin. Requests with
    neither are let through to the token check (some proxies strip both)."""
    origin = headers.get("origin")
    if origin is not None:
        return origin == public_origin
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == public_origin
    return True


def csrf_valid(expected: str | None, supplied: str | None) -> bool:
    if not expected or not supplied:
        return False
    return secrets.compare_digest(expected.encode(), supplied.encode())
