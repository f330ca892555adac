"""FastAPI app factory: problem+json for every failure, body size limits, security headers,
request/trace ids, RED metrics, `/metrics`, `/livez`, `/readyz` and OpenAPI."""
from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logging import request_id_var, trace_id_var
from .metrics import HTTP_LATENCY, HTTP_REQUESTS
from .problems import Problem, negotiate, render

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-resource-policy": "same-origin",
}


def problem_response(request: Request, problem: Problem, headers: dict | None = None) -> JSONResponse:
    locale = negotiate(request.headers.get("accept-language"))
    body = render(problem, locale, instance=request.url.path)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON,
                        headers={**(headers or {}), "content-language": locale})


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413 before they are read into memory."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                return await self._refuse(scope, receive, send)
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read the body up to the limit before the app sees it, so
        # that an oversized body is a clean 413 rather than an error inside the app.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            chunks.append(message)
            more = message.get("more_body", False)
        await self.app(scope, _replay(chunks, receive), send)

    async def _refuse(self, scope, receive, send):
        response = problem_response(Request(scope), Problem(413, detail={
            "es": f"El cuerpo supera {self.max_bytes} bytes.", "en": f"The body exceeds {self.max_bytes} bytes."}))
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        await response(scope, receive, send)


def _replay(messages: list, then=None):
    queue = list(messages)

    async def receive():
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}
    return receive


def _new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (the body of every error)."""
    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def _problem_response_doc(description: str) -> dict:
    return {"description": description, "model": ProblemDetails,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}


# Documented on every operation: any call may be refused or fail this way.
COMMON_PROBLEMS = {
    401: _problem_response_doc("Missing or invalid token"),
    403: _problem_response_doc("Not allowed for this role"),
    422: _problem_response_doc("Invalid input: `errors` lists each field, its rule and a message (never the value)"),
    500: _problem_response_doc("Internal error (no details are given)"),
}


def create_app(*, title: str, version: str = "1.0.0", readiness: dict[str, Callable[[], bool]] | None = None,
               max_body_bytes: int = 256 * 1024, description: str = "") -> FastAPI:
    app = FastAPI(title=title, version=version, description=description, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", responses=COMMON_PROBLEMS)
    readiness = readiness or {}
    app.state.readiness = readiness

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            # Never echo the input: only where, which rule, and pydantic's message for the rule.
            errors.append({"field": ".".join(str(p) for p in err.get("loc", [])), "code": err.get("type"),
                           "message": _safe_message(err)})
        return problem_response(request, Problem(422, "validation", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, (str, dict)) and exc.status_code != 404 else None
        return problem_response(request, Problem(exc.status_code, detail=detail), headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def _database_away(request: Request, exc: OperationalError):
        # The database is restarting or unreachable: nothing was written; the client may retry.
        log.warning("database unavailable", extra={"route": _route(request)})
        return problem_response(request, Problem(503, "unavailable"), headers={"retry-after": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unhandled error", extra={"error_type": type(exc).__name__, "route": _route(request)})
        return problem_response(request, Problem(500, "internal"))

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        if len(request_id) > 64 or not request_id.replace("-", "").isalnum():
            request_id = str(uuid.uuid4())
        traceparent = request.headers.get("traceparent")
        if not traceparent or len(traceparent.split("-")) != 4:
            traceparent = _new_traceparent()
        request.state.traceparent = traceparent
        t1 = request_id_var.set(request_id)
        t2 = trace_id_var.set(traceparent.split("-")[1])
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # pragma: no cover - exception handlers answer first
            log.error("unhandled error", extra={"error_type": type(exc).__name__})
            response = problem_response(request, Problem(500, "internal"))
        finally:
            request_id_var.reset(t1)
            trace_id_var.reset(t2)
        route = _route(request)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        response.headers["x-request-id"] = request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/livez", include_in_schema=False)
    def livez():
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz():
        results = {}
        for name, check in app.state.readiness.items():
            try:
                results[name] = "ok" if check() else "failing"
            except Exception:
                results[name] = "failing"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ok else "failing", "checks": results}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def _safe_message(err: dict) -> str:
    message = str(err.get("msg", "invalid"))
    return message[:200]


def etag(version: int) -> str:
    return f'W/"{version}"'


def require_if_match(request: Request, current_version: int) -> None:
    """Optimistic concurrency for updates: a stale write gets 412, a missing header 428."""
    header = request.headers.get("if-match")
    if header is None:
        raise Problem(428, detail={"es": "Envíe If-Match con el ETag leído.", "en": "Send If-Match with the ETag you read."})
    if header.strip() not in (etag(current_version), f'"{current_version}"', "*"):
        raise Problem(412, detail={"es": "Otra persona cambió este registro.", "en": "Someone else changed this record."},
                      current_etag=etag(current_version))
