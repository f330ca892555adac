"""The app factory answers every failure with RFC 9457 problem+json, in Spanish or English,
never echoing input and never with a stack trace."""
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from careroute_platform.http import create_app, etag, require_if_match
from careroute_platform.problems import Problem, negotiate

pytestmark = pytest.mark.unit
PLANTED = "Zyxwv-Planted-9931"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=5)


def make_client():
    app = create_app(title="t", max_body_bytes=1000)
    router = APIRouter()

    @router.post("/things")
    def create(body: Body):
        return {"ok": True}

    @router.get("/boom")
    def boom():
        raise RuntimeError(f"secret {PLANTED}")

    @router.get("/conflict")
    def conflict():
        raise Problem(409, "illegal-transition", detail={"es": "Ya fue rechazada.", "en": "Already declined."})

    from fastapi import Request

    @router.put("/versioned")
    def versioned(request: Request):
        require_if_match(request, 3)
        return {"ok": True}

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_validation_error_is_problem_json_without_the_input():
    r = make_client().post("/things", json={"name": PLANTED, "owner": PLANTED})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/validation") and body["status"] == 422
    assert {e["field"] for e in body["errors"]} == {"body.name", "body.owner"}
    assert PLANTED not in r.text


def test_unexpected_error_is_500_without_trace_or_message():
    r = make_client().get("/boom")
    assert r.status_code == 500 and r.json()["type"].endswith("/internal")
    assert PLANTED not in r.text and "Traceback" not in r.text


def test_not_found_and_language_negotiation():
    c = make_client()
    assert c.get("/nothing").json()["title"] == "No encontrado"
    assert c.get("/nothing", headers={"accept-language": "en-GB,en;q=0.9"}).json()["title"] == "Not found"
    r = c.get("/conflict", headers={"accept-language": "en"})
    assert r.status_code == 409 and r.json()["detail"] == "Already declined."
    assert c.get("/conflict").json()["detail"] == "Ya fue rechazada."


def test_body_too_large_is_413_and_invalid_utf8_400():
    c = make_client()
    r = c.post("/things", content=b"{" + b" " * 2000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    r = c.post("/things", content=b"\xff\xfe{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_security_headers_and_request_id():
    r = make_client().get("/livez")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


def test_if_match_precondition():
    c = make_client()
    assert c.put("/versioned").status_code == 428
    r = c.put("/versioned", headers={"if-match": etag(2)})
    assert r.status_code == 412 and r.json()["current_etag"] == etag(3)
    assert c.put("/versioned", headers={"if-match": etag(3)}).status_code == 200


@pytest.mark.parametrize("header,expected", [(None, "es"), ("en", "en"), ("es-EC,es;q=0.9", "es"),
                                             ("fr-FR,en;q=0.5", "en"), ("de", "es"), ("%%%", "es")])
def test_negotiate(header, expected):
    assert negotiate(header) == expected


def test_chunked_body_too_large_is_413_too():
    def chunks():
        for _ in range(5):
            yield b" " * 400
    r = make_client().post("/things", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["x-content-type-options"] == "nosniff"
    ok = make_client().post("/things", content=iter([b'{"name": ', b'"abc"}']), headers={"content-type": "application/json"})
    assert ok.status_code == 200
