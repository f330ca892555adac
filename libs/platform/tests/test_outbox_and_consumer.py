"""The outbox relay and the consumer runner as real processes against the real database and
broker: crashes lose nothing and apply nothing twice; poison goes to the dead-letter topic."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select

from careroute_devstack.testing import wait_for
from careroute_platform.access import Decision, access_event
from careroute_platform.db import UnitOfWork, make_session_factory
from careroute_platform.outbox import Outbox

sys.path.insert(0, str(Path(__file__).parent))
from support import probe  # noqa: E402

pytestmark = pytest.mark.integration
PROBE = [sys.executable, str(Path(__file__).parent / "support" / "probe.py")]


@pytest.fixture(scope="module")
def probe_db(stack):
    from careroute_devstack.stack import provision_database

    url, owner_url = provision_database(stack.postgres, "platform_probe", "probe-pw")
    eng = probe.engine(owner_url)
    probe.metadata.create_all(eng)
    return url


def spawn(mode, stack, db, group="probe", **env):
    import os

    return subprocess.Popen([*PROBE, mode, "--db", db, "--bootstrap", stack.cfg.bootstrap, "--group", group],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_events(db, n, action="probe", key=None):
    eng = probe.engine(db)
    uow = UnitOfWork(make_session_factory(eng), Outbox(probe.tables["outbox"]))
    ids = []
    with uow:
        for _ in range(n):
            event = access_event(service="audit", principal=None, action=action, resource_type=probe.MARK,
                                 resource_id=str(uuid.uuid4()), decision=Decision(True, "probe"), key=key)
            uow.publish(event)
            ids.append(event.id)
        uow.commit()
    return ids


def effects(db, ids):
    with probe.engine(db).connect() as conn:
        rows = conn.execute(select(probe.effects).where(probe.effects.c.event_id.in_(ids))).all()
    return {r.event_id: r.applied for r in rows}


def unpublished(db):
    t = probe.tables["outbox"]
    with probe.engine(db).connect() as conn:
        return conn.execute(select(func.count()).where(t.c.published_at.is_(None))).scalar()


def test_relay_killed_between_publish_and_mark_republishes_and_effect_happens_once(stack, probe_db, kafka_tap):
    ids = write_events(probe_db, 5)
    crashed = spawn("relay-crash", stack, probe_db)
    assert crashed.wait(30) == -9                       # died by SIGKILL after the broker's ack
    assert unpublished(probe_db) >= 5                   # ... and before marking
    relay = spawn("relay", stack, probe_db)
    consumer = spawn("consumer", stack, probe_db, group="probe-relay")
    try:
        wait_for(lambda: unpublished(probe_db) == 0, 30, message="outbox drained")
        wait_for(lambda: len(effects(probe_db, ids)) == 5, 60, message="effects applied")
        on_topic = [e.id for e in kafka_tap.events(["careroute.access"]) if e.id in ids]
        assert len(on_topic) == 10                      # every event was published twice ...
        assert set(effects(probe_db, ids).values()) == {1}  # ... and applied once
    finally:
        relay.terminate(), consumer.terminate()
        relay.wait(20), consumer.wait(20)


def test_consumer_sigkilled_mid_batch_loses_nothing_and_applies_nothing_twice(stack, probe_db):
    relay = spawn("relay", stack, probe_db)
    ids = write_events(probe_db, 150)
    consumer = spawn("consumer", stack, probe_db, group="probe-kill", PROBE_HANDLER_SLEEP="0.02")
    try:
        wait_for(lambda: len(effects(probe_db, ids)) >= 20, 60, message="some effects")
        consumer.kill()
        consumer.wait(10)
        assert len(effects(probe_db, ids)) < 150        # killed mid-way
        consumer = spawn("consumer", stack, probe_db, group="probe-kill")
        wait_for(lambda: len(effects(probe_db, ids)) == 150, 90, message="all effects")
        assert set(effects(probe_db, ids).values()) == {1}
    finally:
        for p in (relay, consumer):
            p.terminate()
            p.wait(20)


def test_poison_message_goes_to_dead_letter_topic_and_partition_keeps_flowing(stack, probe_db, kafka_tap):
    relay = spawn("relay", stack, probe_db)
    consumer = spawn("consumer", stack, probe_db, group="probe-poison")
    key = str(uuid.uuid4())
    producer = KafkaProducer(bootstrap_servers=stack.cfg.bootstrap, acks="all")
    try:
        # 1: not a CloudEvent at all; 2: a valid event whose handler refuses it for good
        producer.send("careroute.access", key=key.encode(), value=b"\x00garbage", headers=[]).get(10)
        # same key, so the same partition: the good events come after the poison in one queue
        poison_ids = write_events(probe_db, 1, action="poison", key=key)
        good_ids = write_events(probe_db, 3, key=key)
        wait_for(lambda: len(effects(probe_db, good_ids)) == 3, 60, message="good events after poison")
        dead = kafka_tap.read_all(["careroute.access.dlt"])

        def headers(r):
            return {k: v.decode() for k, v in r.headers}

        garbage = [headers(r) for r in dead if r.value == b"\x00garbage" and
                   headers(r).get("dlt_consumer_group") == "probe-poison"]
        assert garbage and garbage[0]["dlt_error_type"] == "MalformedEvent"
        assert garbage[0]["dlt_original_topic"] == "careroute.access"
        refused = [headers(r) for r in dead if headers(r).get("ce_id") == poison_ids[0]]
        assert refused and refused[0]["dlt_error_type"] == "PermanentError"
        assert "probe poison" in refused[0]["dlt_error_message"]
        assert poison_ids[0] not in effects(probe_db, poison_ids)
    finally:
        producer.close()
        for p in (relay, consumer):
            p.terminate()
            p.wait(20)
