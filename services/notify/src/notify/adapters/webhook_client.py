"""One webhook delivery attempt over HTTP(S), with the SSRF guard applied to the address actually used.

The host is resolved and vetted at send time and the connection is pinned to the vetted address (the
URL carries the address, the Host header and TLS SNI/certificate check carry the name), so a DNS answer
that changes between the check and the connection cannot redirect the request. Redirects are not
followed; environment proxies are ignored; the response body is never read or stored."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ..domain import targets
from ..domain.targets import RefusedTarget, TargetPolicy

USER_AGENT = "CareRoute-Webhooks/1.0"


@dataclass(frozen=True)
class AttemptResult:
    outcome: str                 # success | http_error | redirect_refused | timeout | connection_error |
                                 # refused_target | error
    duration_ms: int
    status_code: int | None = None
    error_class: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


class WebhookClient:
    def __init__(self, *, timeout: float, policy: Callable[[], TargetPolicy],
                 resolver: targets.Resolver = targets.system_resolver, transport: httpx.BaseTransport | None = None,
                 ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                                   transport=transport, limits=httpx.Limits(max_connections=64))

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()

        def took() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target, addresses = targets.check(url, self.policy(), self.resolver)
        except RefusedTarget as exc:
            return AttemptResult("refused_target", took(), error_class=exc.reason)
        request_headers = {**headers, "host": target.host_header, "content-type": "application/json",
                           "user-agent": USER_AGENT}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            with self.client.stream("POST", target.url_for(addresses[0]), content=body, headers=request_headers,
                                    extensions=extensions) as response:
                status = response.status_code
        except httpx.TimeoutException as exc:
            return AttemptResult("timeout", took(), error_class=type(exc).__name__)
        except httpx.ConnectError as exc:
            return AttemptResult("connection_error", took(), error_class=type(exc).__name__)
        except httpx.HTTPError as exc:
            return AttemptResult("error", took(), error_class=type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult("success", took(), status)
        if 300 <= status < 400:
            return AttemptResult("redirect_refused", took(), status, "redirect")
        return AttemptResult("http_error", took(), status, f"http_{status // 100}xx")

    def close(self) -> None:
        self.client.close()
