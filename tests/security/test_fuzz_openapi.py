"""Schemathesis against every service's OpenAPI document, in process (ASGI), authenticated.

For each operation of each service, Hypothesis draws a bounded, derandomized set of requests from the
schema (valid ones and invalid ones) and sends them with a real token of a role that passes the
operation's door. Whatever is sent:

- no 5xx, ever;
- a documented success answers with its documented shape and content type (schemathesis' response
  checks);
- every error is RFC 9457 problem+json whose `status` is the HTTP status, with no stack trace;
- every answer carries the security headers.

Operations with a case id are also fuzzed against a real, sacrificial case of the caller's office, so
the generated bodies reach the use cases and not only the 404 of an unknown id.

Bounded for a 2-core machine: EXAMPLES per operation and generation mode, no shrinking, no example
database, derandomized (the same inputs every run).
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import registration_body

pytestmark = pytest.mark.integration

EXAMPLES = 6
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "cache-control": "no-store"}
# Who fuzzes what: a role that passes the door of most operations of the service.
FUZZERS = {
    "intake": [("supervisor.tulcan", None)],
    "referral": [("supervisor.tulcan", None), ("admin.directory", "/v1/directory/")],
    "notify": [("msp-hospital-tulcan-system", None)],
    "audit": [("auditor.oversight", None)],
}
SKIP_PATHS = ("/v1/inbox/stream",)  # server-sent events: an endless response by design


def text_of(response) -> str:
    return response.content.decode("utf-8", "replace")


def header(response, name: str) -> str | None:
    """schemathesis' Response keeps every header as a list of values."""
    for key, value in response.headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


def problem_failures(response) -> list[str]:
    out = []
    for name, value in SECURITY_HEADERS.items():
        if header(response, name) != value:
            out.append(f"header {name}={header(response, name)!r}")
    if header(response, "server") is not None:
        out.append("server header present")
    if response.status_code >= 500:
        out.append(f"server error {response.status_code}")
    if response.status_code >= 400:
        if not (header(response, "content-type") or "").startswith("application/problem+json"):
            out.append(f"{response.status_code} is not problem+json ({header(response, 'content-type')})")
        else:
            try:
                body = json.loads(response.content)
            except ValueError:
                return out + ["problem body is not JSON"]
            if body.get("status") != response.status_code or not str(body.get("type", "")).startswith("https://") \
                    or not body.get("title"):
                out.append(f"malformed problem {body}")
        if "Traceback" in text_of(response) or 'File "' in text_of(response):
            out.append("stack trace in the body")
    return out


@pytest.fixture(scope="module")
def sacrificial_case(platform, world):
    """A case of the fuzzer's office that the fuzzer may damage (close, rectify, even erase)."""
    r = platform.call("intake", "POST", "/v1/cases", user="caseworker.tulcan",
                      json=registration_body(world.markers, "fuzz"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def fuzz(platform, service: str, user: str, only_prefix: str | None, pinned: dict | None = None) -> tuple[dict, dict]:
    app = platform[service].app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # NUL characters are sent on purpose, field by field, by test_input_hardening (where the known
    # failures are tracked); here they would only mask everything else behind the same finding.
    schema.config.generation.update(allow_x00=False)
    auth = platform.bearer(user)
    failures: dict[str, str] = {}
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP_PATHS or (only_prefix and not operation.path.startswith(only_prefix)):
            continue
        path_parameters = None
        if pinned:
            names = {p.name for p in operation.path_parameters}
            if not names or not names <= set(pinned):
                continue
            path_parameters = {name: pinned[name] for name in names}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exercise = exerciser(operation, mode, path_parameters, auth, sent, failures)
            try:
                exercise()
            except Unsatisfiable:
                pass  # no invalid variant exists for an operation without inputs
    return failures, sent


def exerciser(operation, mode, path_parameters, auth: dict, sent: dict, failures: dict):
    """A Hypothesis test over one operation and generation mode; it records, never raises (no shrinking)."""
    label = f"{operation.method.upper()} {operation.path} [{mode.value}]"

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.quiet)
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def exercise(case):
        response = case.call(headers=auth)
        sent[label] = sent.get(label, 0) + 1
        problems = problem_failures(response)
        # Content types are not checked here: errors are problem+json (checked above; the gap in the
        # documents is test_openapi_documents_errors_as_problem_json), and the alternative formats (CSV,
        # zip, signed notes) are not described in the documents (see docs/security-model.md, finding 4).
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except FailureGroup as exc:
            problems.append(str(exc).split("\n\n")[0] + " " + str(exc)[:300])
        if problems and label not in failures:
            failures[label] = (f"{case.method} {case.formatted_path} query={case.query} "
                               f"body={str(case.body)[:200]} -> {response.status_code}: "
                               + "; ".join(problems) + f" | {text_of(response)[:200]}")

    return exercise


def report(failures: dict) -> str:
    return f"{len(failures)} operation(s) misbehaved:\n" + "\n".join(f"- {k}: {v}" for k, v in failures.items())


@pytest.mark.parametrize("service", list(FUZZERS))
def test_fuzzed_requests_get_documented_answers_and_never_a_server_error(platform, world, service):
    all_failures, total = {}, 0
    for user, prefix in FUZZERS[service]:
        failures, sent = fuzz(platform, service, user, prefix)
        all_failures.update({f"{user} {k}": v for k, v in failures.items()})
        total += sum(sent.values())
    assert not all_failures, report(all_failures)
    assert total >= 50, f"only {total} requests were sent: the fuzzer did not run"


def test_fuzzed_requests_on_a_real_case_of_the_callers_office(platform, world, sacrificial_case):
    """The same, with every case-scoped intake operation pinned to a real case: the generated bodies
    reach the use cases (validation, If-Match, state rules) instead of stopping at an unknown id."""
    failures, sent = fuzz(platform, "intake", "supervisor.tulcan", None, pinned={"case_id": sacrificial_case})
    assert not failures, report(failures)
    assert len(sent) >= 20, sent


DOCUMENTED_GAPS = {
    # Finding (see the report): these services' OpenAPI documents describe errors as FastAPI's default
    # 422 `application/json` HTTPValidationError and nothing else, while every error they send is
    # problem+json (401, 403, 404, 409, 412, 422, 428 ...). Remove a service from here once fixed.
}


@pytest.mark.parametrize("service", [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=DOCUMENTED_GAPS[s])) if s in DOCUMENTED_GAPS else s
    for s in FUZZERS])
def test_openapi_documents_errors_as_problem_json(platform, service):
    """Every operation documents its authentication failure (401) and its validation failure (422, when
    it takes input) as application/problem+json, so clients generated from the document handle errors."""
    spec = platform[service].app.openapi()
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            for status in ("401", "422") if takes_input else ("401",):
                content = responses.get(status, responses.get("4XX", responses.get("default", {}))).get("content", {})
                if "application/problem+json" not in content:
                    missing.append(f"{method.upper()} {path}: {status}")
    assert not missing, f"{len(missing)} undocumented problem responses, e.g. {missing[:5]}"


