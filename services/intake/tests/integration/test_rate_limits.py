"""Reads that reveal identity are rate-limited per caller, and a refusal is problem+json with
Retry-After; another caller is not affected."""
import pytest

pytestmark = pytest.mark.integration


def test_identity_reads_are_rate_limited_per_caller(service_harness):
    intake = service_harness("intake")
    missing = "00000000-0000-4000-8000-000000000000"
    limit = intake.runtime.settings.identity_reads_per_minute
    statuses = [intake.call("GET", f"/v1/cases/{missing}/identity?purpose=case_management",
                            user="caseworker.lagoagrio").status_code for _ in range(limit + 3)]
    assert 429 in statuses  # (other tests may have used part of this caller's budget already)
    refused = intake.call("GET", f"/v1/cases/{missing}/identity?purpose=case_management", user="caseworker.lagoagrio")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json" and int(refused.headers["retry-after"]) >= 1
    other = intake.call("GET", f"/v1/cases/{missing}/identity?purpose=case_management", user="supervisor.quito")
    assert other.status_code != 429
