"""Survivor codes, statistics suppression, the referral projection, text rules and request models."""
from datetime import UTC, datetime, timedelta

import pytest
from intake.domain import referral_access as proj
from intake.domain.statistics import suppress
from intake.domain.survivor_code import CODE_RE, new_survivor_code, office_prefix
from careroute_platform.text import TextRuleError, clean_text
from intake.schemas import IncidentIn, ProfileIn, RegistrationIn, SurvivorIdentityIn
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_survivor_codes_are_random_and_well_formed():
    codes = {new_survivor_code("/iom/tulcan", 2026, {"/iom/tulcan": "TUL"}) for _ in range(200)}
    assert len(codes) == 200 and all(CODE_RE.match(c) and c.startswith("TUL-2026-") for c in codes)
    assert office_prefix("/civil-society/alas-de-colibri", {}) == "ALA"


def test_small_cells_are_suppressed_with_a_complementary_cell():
    cells, total = suppress({("rape",): 2, ("physical_assault",): 9, ("psychological_abuse",): 6}, threshold=5)
    by_key = {c.key[0]: c for c in cells}
    assert by_key["rape"].suppressed and by_key["rape"].count is None
    assert by_key["psychological_abuse"].suppressed  # else rape = total - 9 - 6
    assert by_key["physical_assault"].count == 9 and total == 17


def test_two_small_cells_need_no_complement_and_small_totals_are_hidden():
    cells, total = suppress({("a",): 1, ("b",): 3, ("c",): 7}, threshold=5)
    assert [c.suppressed for c in cells] == [True, True, False] and total == 11
    _, small = suppress({("a",): 4}, threshold=5)
    assert small is None


def test_referral_projection_never_goes_back():
    assert proj.next_status(None, "accepted") == "accepted"
    assert proj.next_status("accepted", "created") == "accepted"        # created arriving late
    assert proj.next_status("revoked", "accepted") == "revoked"         # ended stays ended
    assert proj.next_status("completed", "closed") == "closed"
    done = datetime(2026, 5, 1, tzinfo=UTC)
    until = proj.access_until("completed", completed_at=done, follow_up_days=14)
    assert proj.grants_access("completed", access_until_at=until, now=done + timedelta(days=13))
    assert not proj.grants_access("completed", access_until_at=until, now=done + timedelta(days=15))
    assert not proj.grants_access("closed", access_until_at=None, now=done)


@pytest.mark.parametrize("value", ["Ana\x00", "Ana\x1b[31m", "Ana\u202eanA", "Ana\u2066x", "Ana\ud800"])
def test_control_and_direction_override_characters_are_refused(value):
    with pytest.raises(TextRuleError) as err:
        clean_text(value, max_length=50)
    assert "Ana" not in str(err.value)


def test_text_is_nfc_normalised_and_capped():
    assert clean_text("Jose\u0301 ", max_length=10) == "José"
    with pytest.raises(TextRuleError):
        clean_text("x" * 11, max_length=10)
    assert clean_text("line 1\r\nline 2", max_length=50, multiline=True) == "line 1\nline 2"


def test_mass_assignment_is_refused():
    with pytest.raises(ValidationError) as err:
        SurvivorIdentityIn(given_names="Ana", survivor_code="TUL-2026-AAAAAA")
    assert err.value.errors()[0]["type"] == "extra_forbidden"


def test_codes_are_validated():
    base = {"sex": "female", "nationality": "VE", "mobility_status": "refugee", "age_band": "26_40"}
    ProfileIn(**base, province="04", canton="0401")
    for bad in ({"nationality": "QQ"}, {"province": "99"}, {"province": "04", "canton": "1701"},
                {"canton": "0401"}, {"languages": ["es", "es"]}, {"languages": ["klingon"]}):
        with pytest.raises(ValidationError):
            ProfileIn(**{**base, **bad})


def test_incident_dates_cannot_be_in_the_future():
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    with pytest.raises(ValidationError):
        IncidentIn(occurred_on=tomorrow, location_type="street", gbvims_type="rape",
                   perpetrators={"count": 1, "sex": "male", "age_group": "unknown", "relationship": "unknown"})


def test_registration_requires_consent_to_be_registered():
    body = {"consent": {"given_by": "survivor", "given_at": "2026-01-01T00:00:00Z", "registration": False},
            "profile": {"sex": "female", "nationality": "VE", "mobility_status": "refugee", "age_band": "26_40"},
            "risk": {"level": "low"}}
    with pytest.raises(ValidationError):
        RegistrationIn(**body)
    body["consent"]["registration"] = True
    RegistrationIn(**body)
