import io
import json
import logging

import pytest

from careroute_platform.logging import configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    configure_logging("test", "DEBUG", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_logs_are_json_with_service_and_allowed_fields(log_stream):
    logging.getLogger("x").info("case registered", extra={"case_id": "c-1", "count": 3})
    [record] = lines(log_stream)
    assert record["service"] == "test" and record["case_id"] == "c-1" and record["count"] == 3
    assert record["level"] == "INFO" and record["message"] == "case registered"


def test_personal_data_is_redacted_and_unknown_fields_dropped(log_stream):
    log = logging.getLogger("x")
    log.warning("contact maria.perez@example.org or +593 99 123 4567, doc 1712345678",
                extra={"given_name": "María", "case_id": "write to ana@example.org"})
    try:
        raise ValueError("identity number 0912345678 invalid")
    except ValueError:
        log.exception("failed")
    text = log_stream.getvalue()
    for secret in ("maria.perez@example.org", "593 99 123 4567", "1712345678", "María", "ana@example.org",
                   "0912345678"):
        assert secret not in text
    first, second = lines(log_stream)
    assert "given_name" not in first
    assert second["error_type"] == "ValueError"
