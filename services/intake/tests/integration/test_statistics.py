"""De-identified statistics: reporting consent only, small cells suppressed, JSON and CSV."""
import pytest

from .conftest import incident, register

pytestmark = pytest.mark.integration
MONTH = "2019-03"


def stats_incident(gbvims_type):
    body = incident(gbvims_type=gbvims_type, legal_types=["fisica"])
    body["occurred_on"] = f"{MONTH}-15"
    return body


@pytest.fixture(scope="module")
def seeded(intake):
    plan = [("physical_assault", True)] * 6 + [("psychological_abuse", True)] * 5 + [("rape", True)] * 2 + \
           [("sexual_assault", False)] * 3  # the last three did not consent to reporting
    for gbvims, reporting in plan:
        register(intake, user="caseworker.lagoagrio", incident=stats_incident(gbvims), reporting=reporting,
                 dob=None)
    return plan


def test_small_cells_suppressed_and_only_reporting_consent(intake, seeded):
    r = intake.call("GET", f"/v1/statistics/incidents?group_by=incident_type&from_month={MONTH}&to_month={MONTH}",
                    user="official.ministerio")
    assert r.status_code == 200, r.text
    cells = {c["key"]["incident_type"]: c for c in r.json()["cells"]}
    assert "sexual_assault" not in cells                          # no reporting consent: not counted at all
    assert cells["physical_assault"] == {"key": {"incident_type": "physical_assault"}, "count": 6, "suppressed": False}
    assert cells["rape"]["suppressed"] and cells["rape"]["count"] is None          # 2 < 5
    assert cells["psychological_abuse"]["suppressed"]                                # complementary suppression
    assert r.json()["total"] == 13 and r.json()["min_cell"] == 5


def test_csv_and_several_dimensions(intake, seeded):
    r = intake.call("GET", f"/v1/statistics/incidents?group_by=month&group_by=nationality&from_month={MONTH}"
                           f"&to_month={MONTH}&format=csv", user="supervisor.tulcan")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "month,nationality,count,suppressed"
    assert f"{MONTH},VE,13,false" in lines and lines[-1] == "total,,13,false"


@pytest.mark.parametrize("user, status", [("caseworker.tulcan", 403), ("auditor.oversight", 403),
                                          ("provider.alas", 403), (None, 401)])
def test_statistics_refusals(intake, user, status):
    assert intake.call("GET", "/v1/statistics/incidents", user=user).status_code == status


@pytest.mark.parametrize("query", ["group_by=name", "group_by=month&group_by=month", "from_month=2019-13",
                                   "format=xml", "group_by=month&group_by=sex&group_by=canton&group_by=province"])
def test_statistics_bad_queries(intake, query):
    r = intake.call("GET", f"/v1/statistics/incidents?{query}", user="official.ministerio")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
