"""Small-cell suppression and the coordination figures."""
from datetime import timedelta

import pytest
from referral.domain.statistics import ReferralFact, UnmetNeed, compute, rate, suppress, to_csv_rows

from .helpers import T0

pytestmark = pytest.mark.unit


def test_primary_suppression_hides_1_to_4_and_shows_zero():
    out = suppress({("a",): 0, ("b",): 4, ("c",): 5, ("d",): 1, ("e",): 20})
    assert out == {("a",): 0, ("b",): None, ("c",): 5, ("d",): None, ("e",): 20}


def test_secondary_suppression_protects_a_lone_hidden_cell():
    out = suppress({("a",): 3, ("b",): 7, ("c",): 30})
    assert out[("a",)] is None and out[("b",)] is None and out[("c",)] == 30


def test_rates_need_a_big_enough_denominator():
    assert rate(3, 4) is None
    assert rate(3, 5) == 0.6


def fact(**kw):
    values = dict(service_type="health_cmr", province="Carchi", canton="Tulcán",
                  organisation="/government/msp/hospital-tulcan", priority="emergency", status="accepted",
                  created_at=T0, first_response_at=T0 + timedelta(hours=2), accepted=True, sexual_violence=True,
                  incident_at=T0 - timedelta(hours=10))
    values.update(kw)
    return ReferralFact(**values)


def test_figures_are_aggregated_and_suppressed():
    facts = [fact() for _ in range(6)] + [fact(service_type="legal_aid", organisation="/civil-society/hias",
                                               status="declined", accepted=False, sexual_violence=False)
                                          for _ in range(2)]
    figures = compute(facts, [UnmetNeed("safe_shelter", "Carchi", "Tulcán")] * 2)
    assert figures["total_referrals"] == 8
    by_type = {row["service_type"]: row["referrals"] for row in figures["by_service_type"]}
    assert by_type == {"health_cmr": None, "legal_aid": None}          # 2 hidden, then 6 hidden too
    assert figures["acceptance_rate"] == 0.75
    assert figures["completion_rate"] == 0.0
    assert figures["sexual_violence"]["referrals"] == 6
    assert figures["sexual_violence"]["answered_within_72h_rate"] == 1.0
    emergency = next(r for r in figures["time_to_first_answer"] if r["priority"] == "emergency")
    assert emergency["median_hours_to_first_answer"] == 2.0 and emergency["answered_within_window_rate"] == 1.0
    assert figures["unmet_needs"] == [{"service_type": "safe_shelter", "province": "Carchi", "canton": "Tulcán",
                                       "cases": None, "suppressed": True}]
    rows = to_csv_rows(figures)
    assert {"section", "dimension", "metric", "value", "suppressed"} == set(rows[0])
    assert all(r["value"] == "" for r in rows if r["suppressed"])


def test_few_referrals_reveal_nothing():
    figures = compute([fact(), fact()], [])
    assert figures["total_referrals"] is None
    assert figures["acceptance_rate"] is None and figures["sexual_violence"]["answered_within_72h_rate"] is None
