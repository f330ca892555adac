"""Fixtures for the audit service's integration tests (real PostgreSQL, broker, identity provider).

- `audit`: the service harness (API TestClient, relay, log consumer and checkpointer in threads).
- `isolated`: a second, freshly migrated audit database with its own runtime and a dedicated topic,
  for tests that count the tree exactly (nothing else appends there).
- `producer` / `publish`: put CloudEvents on the broker as a producing service would.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from careroute_platform.access import Decision, access_event
from careroute_platform.auth import Principal
from careroute_platform.cloudevents import Event, to_kafka
from careroute_platform.migrations import upgrade
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

MARKER = "ZZ-PLANTED-MARIA-PEREZ-0991234567"  # a value that must never reach an entry or an export


@pytest.fixture(scope="session")
def audit(service_harness):
    return service_harness("audit")


@pytest.fixture(scope="session")
def producer(stack):
    p = KafkaProducer(bootstrap_servers=stack.cfg.bootstrap, acks="all", linger_ms=2)
    yield p
    p.close(timeout=5)


def send(producer: KafkaProducer, topic: str, event: Event) -> None:
    key, value, headers = to_kafka(event)
    producer.send(topic, key=key, value=value, headers=headers).get(30)


def send_raw(producer: KafkaProducer, topic: str, *, key: bytes | None, value: bytes | None, headers) -> None:
    producer.send(topic, key=key, value=value, headers=headers).get(30)


def caseworker(subject: str | None = None, organisation: str = "/iom/tulcan") -> Principal:
    return Principal(subject=subject or str(uuid.uuid4()), username="caseworker.test", roles=frozenset({"caseworker"}),
                     groups=(organisation,), client_id="careroute-frontend")


def case_read(principal: Principal | None = None, *, case_id: str | None = None, allowed: bool = True,
              time: str | None = None, plant: bool = False, action: str = "case.read") -> Event:
    """The access event intake emits when a caseworker opens a case."""
    principal = principal or caseworker()
    case_id = case_id or str(uuid.uuid4())
    event = access_event(service="intake", principal=principal, action=action, resource_type="case",
                         resource_id=case_id, decision=Decision(allowed, "own-office" if allowed else "other-office"),
                         purpose="follow-up of the safety plan", key=case_id,
                         traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
    if plant:
        data = json.loads(json.dumps(event.data))
        data["survivor_name"] = MARKER
        data["actor"]["email"] = MARKER
        data["resource"]["note"] = MARKER
        event = Event(type=event.type, source=event.source, data=data, key=event.key, id=event.id,
                      time=event.time, traceparent=event.traceparent)
    if time is not None:
        event = Event(type=event.type, source=event.source, data=event.data, key=event.key, id=event.id, time=time,
                      traceparent=event.traceparent)
    return event


@dataclass
class Isolated:
    runtime: object
    settings: object
    topic: str
    owner_url: str


@pytest.fixture
def isolated(stack):
    """A new audit database (own owner and runtime roles) and a dedicated topic with its DLT."""
    from audit.definition import DEFINITION, dev_env
    from careroute_devstack.stack import provision_database

    name = f"audit_{uuid.uuid4().hex[:8]}"
    runtime_url, owner_url = provision_database(stack.postgres, name, "isolated-pw")
    upgrade(owner_url, DEFINITION.migrations)
    topic = f"audit-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=stack.cfg.bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlt", 1, 1)])
    finally:
        admin.close()
    env = {k.removeprefix("AUDIT_").lower(): v for k, v in stack.service_env("audit").items()}
    env.update({k.lower(): v for k, v in dev_env(stack.cfg).items()})
    env.update(database_url=runtime_url, migration_database_url=owner_url, log_consumer_group=f"{name}-log")
    env["oidc_allowed_azp"] = json.loads(env["oidc_allowed_azp"])
    settings = DEFINITION.settings_factory(**env)
    runtime = DEFINITION.runtime(settings)
    yield Isolated(runtime, settings, topic, owner_url)
    runtime.engine.dispose()
