"""The consumer's decisions, with fakes: a database outage is retried later (never dead-lettered),
a handler's permanent refusal is dead-lettered at once."""
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.exc import OperationalError

from careroute_platform.cloudevents import Event, event_type, to_kafka
from careroute_platform.consumer import ConsumerRunner, PermanentError, RetryLater

pytestmark = pytest.mark.unit
processed = Table("processed_events", MetaData(), Column("consumer_group", String), Column("event_id", String),
                  Column("event_type", String))


class DeadLetters:
    def __init__(self):
        self.sent = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, dict(headers)))
        return SimpleNamespace(get=lambda timeout=None: None)


def record():
    key, value, headers = to_kafka(Event(type=event_type("case.closed"), source="/t", data={"case_id": "c"}, key="c"))
    return SimpleNamespace(key=key, value=value, headers=headers, topic="careroute.case", partition=0, offset=7)


def runner(uow_factory, handler=lambda uow, e: None):
    dlt = DeadLetters()
    r = ConsumerRunner(group_id="g", topics=["careroute.case"], handlers={"*": handler}, uow_factory=uow_factory,
                       processed_table=processed, bootstrap="127.0.0.1:1", retry_backoff=0, producer=dlt)
    return r, dlt


def database_down():
    raise OperationalError("connect", {}, Exception("connection refused"))


def test_database_outage_is_retried_later_not_dead_lettered():
    r, dlt = runner(database_down)
    with pytest.raises(RetryLater):
        r.handle(record())
    assert dlt.sent == []


class FakeUow:
    def __init__(self):
        self.session = SimpleNamespace(execute=lambda stmt: SimpleNamespace(first=lambda: ("new",)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def commit(self):
        pass


def test_permanent_refusal_is_dead_lettered_with_its_error():
    def refuse(uow, event):
        raise PermanentError("not for us")
    r, dlt = runner(FakeUow, refuse)
    assert r.handle(record()) == "dead-lettered"
    [(topic, headers)] = dlt.sent
    assert topic == "careroute.case.dlt" and headers["dlt_error_type"] == b"PermanentError"
    assert headers["dlt_original_offset"] == b"7"
