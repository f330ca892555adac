import pytest

from careroute_platform.cloudevents import Event, MalformedEvent, event_type, from_kafka, to_kafka

pytestmark = pytest.mark.unit


def test_round_trip_keeps_every_attribute():
    event = Event(type=event_type("referral.accepted"), source="/careroute/referral",
                  data={"referral_id": "r1", "case_id": "c1"}, key="c1", subject="r1",
                  traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    key, value, headers = to_kafka(event)
    assert key == b"c1"
    assert dict(headers)["ce_specversion"] == b"1.0"
    back = from_kafka(key, value, headers)
    assert back == event
    assert back.name == "referral.accepted" and back.aggregate == "referral"


@pytest.mark.parametrize("headers,value,why", [
    ([], b"{}", "missing CloudEvents headers"),
    ([("ce_specversion", b"0.3"), ("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"org.iom.careroute.a.b.v1")],
     b"{}", "unsupported specversion"),
    ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"com.evil.x.v1")],
     b"{}", "outside org.iom.careroute"),
    ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"org.iom.careroute.a.b.v1")],
     b"not json", "not JSON"),
    ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"org.iom.careroute.a.b.v1")],
     b"[1]", "not a JSON object"),
    ([("ce_specversion", b"\xff"), ("ce_id", b"1")], b"{}", "not UTF-8"),
])
def test_malformed_records_are_refused_with_a_reason(headers, value, why):
    with pytest.raises(MalformedEvent, match=why):
        from_kafka(b"k", value, headers)
