"""Calls to the four services with the signed-in user's access token. Every service verifies the
token itself and applies its own policy; the frontend never widens what a user may see.

Problems (RFC 9457) from the services become `ApiError`, which the views turn into messages in the
user's language, form errors next to the right field, or an error page."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

UPSTREAM_CALLS = Counter("frontend_upstream_requests_total", "Calls from the frontend to the services",
                         ["service", "method", "status"])
UPSTREAM_LATENCY = Histogram("frontend_upstream_request_duration_seconds", "Latency of calls to the services",
                             ["service", "method"])


@dataclass
class ApiError(Exception):
    service: str
    status: int
    problem: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.service} answered {self.status}")

    @property
    def detail(self) -> str | None:
        return self.problem.get("detail") or self.problem.get("title")

    @property
    def code(self) -> str:
        type_ = str(self.problem.get("type") or "")
        return self.problem.get("code") or type_.rsplit("/", 1)[-1] or str(self.status)

    @property
    def field_errors(self) -> list[dict]:
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


class ServiceUnavailable(ApiError):
    pass


class Services:
    """One pooled HTTP client per service, shared by every request (keep-alive to the services)."""

    def __init__(self, urls: dict[str, str], timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.http = httpx.Client(timeout=timeout, transport=transport,
                                 limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        self.timeout = timeout

    def close(self) -> None:
        self.http.close()

    def for_user(self, token_source, *, locale: str, traceparent: str | None = None) -> UserApi:
        return UserApi(self, token_source, locale=locale, traceparent=traceparent)


class UserApi:
    """The services as seen by one signed-in user (token refreshed on demand by `token_source`)."""

    def __init__(self, services: Services, token_source, *, locale: str, traceparent: str | None) -> None:
        self.services = services
        self.token_source = token_source
        self.locale = locale
        self.traceparent = traceparent

    def request(self, service: str, method: str, path: str, *, params: dict | None = None,
                json: Any = None, headers: dict | None = None, raw: bool = False, timeout: float | None = None):
        url = self.services.urls[service] + path
        sent = {"Authorization": f"Bearer {self.token_source()}", "Accept-Language": self.locale,
                "Accept": "application/json, application/problem+json"}
        if self.traceparent:
            sent["traceparent"] = self.traceparent
        sent.update(headers or {})
        if params:
            params = {k: v for k, v in params.items() if v not in (None, "", [])}
        started = time.perf_counter()
        try:
            response = self.services.http.request(method, url, params=params, json=json, headers=sent,
                                                  timeout=timeout or self.services.timeout)
        except httpx.HTTPError as exc:
            UPSTREAM_CALLS.labels(service, method, "unreachable").inc()
            log.warning("service unreachable", extra={"error_type": type(exc).__name__, "method": method})
            raise ServiceUnavailable(service, 503, {"title": "unavailable"}) from exc
        finally:
            UPSTREAM_LATENCY.labels(service, method).observe(time.perf_counter() - started)
        UPSTREAM_CALLS.labels(service, method, str(response.status_code)).inc()
        if response.status_code >= 400:
            try:
                problem = response.json()
                if not isinstance(problem, dict):
                    problem = {}
            except ValueError:
                problem = {}
            if response.status_code in (502, 503, 504):
                raise ServiceUnavailable(service, response.status_code, problem)
            raise ApiError(service, response.status_code, problem, dict(response.headers))
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return {}
        ctype = response.headers.get("content-type", "")
        if "json" in ctype:
            return response.json()
        return response

    def get(self, service: str, path: str, **kw):
        return self.request(service, "GET", path, **kw)

    def post(self, service: str, path: str, **kw):
        return self.request(service, "POST", path, **kw)

    def put(self, service: str, path: str, **kw):
        return self.request(service, "PUT", path, **kw)

    def patch(self, service: str, path: str, **kw):
        return self.request(service, "PATCH", path, **kw)

    def delete(self, service: str, path: str, **kw):
        return self.request(service, "DELETE", path, **kw)

    def get_with_etag(self, service: str, path: str, **kw) -> tuple[Any, str | None]:
        response = self.request(service, "GET", path, raw=True, **kw)
        return (response.json() if response.content else {}), response.headers.get("etag")


def items(page: Any) -> list:
    """The services' list shape is {"items": [...], "total": n}; tolerate a bare list."""
    if isinstance(page, dict):
        return list(page.get("items") or [])
    if isinstance(page, list):
        return page
    return []
