"""Structured JSON logs with request and trace ids, and a guard against personal data.

The guard is defence in depth: code must never log survivor data, but if a message or an extra
field carries something that looks like an e-mail address, a phone or a document number, it is
redacted before the record is written, and extra fields outside an allow-list are dropped."""
from __future__ import annotations

import contextvars
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

# Extra fields that may appear in a log record: ids, codes, counts and technical facts only.
ALLOWED_EXTRA = {
    "service", "event_id", "event_type", "topic", "partition", "offset", "case_id", "referral_id",
    "entry_index", "status", "method", "route", "duration_ms", "count", "attempt", "error_type",
    "outcome", "action", "resource_type", "tree_size", "locale", "channel", "notification_id",
    "endpoint_id", "lag", "consumer_group", "key_id", "missing_locale",
    "kind", "delivery_id", "reason",
}
_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),              # e-mail addresses
    re.compile(r"\+?\d[\d\s().-]{6,}\d"),                 # phone and document numbers
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class PersonalDataGuard(logging.Filter):
    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        for key in list(vars(record)):
            if key in self._standard or key.startswith("_"):
                continue
            if key not in ALLOWED_EXTRA:
                delattr(record, key)
            elif isinstance(getattr(record, key), str):
                setattr(record, key, redact(getattr(record, key)))
        record.request_id = request_id_var.get()
        record.trace_id = trace_id_var.get()
        if record.exc_info and record.exc_info[1] is not None:
            # Exception messages may quote input: keep the type, drop the text and the locals.
            record.error_type = type(record.exc_info[1]).__name__
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(service: str, level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(PersonalDataGuard())
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service},
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
