"""A minimal service used to test the platform's outbox relay and consumer runner as real
processes (so they can be SIGKILLed). Its one effect: count deliveries per event id."""
from __future__ import annotations

import argparse
import os
import signal
import time

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine
from sqlalchemy.dialects.postgresql import insert

from careroute_platform.consumer import ConsumerRunner, PermanentError
from careroute_platform.db import UnitOfWork, make_session_factory
from careroute_platform.outbox import Outbox, Relay
from careroute_platform.runtime import platform_tables

metadata = MetaData()
tables = platform_tables(metadata)
effects = Table("effects", metadata, Column("event_id", String(64), primary_key=True),
                Column("applied", Integer, nullable=False))
MARK = "platform-probe"


def engine(url):
    return create_engine(url, pool_size=2)


def apply_effect(uow, event):
    if event.data["resource"]["type"] != MARK:
        return  # other tests' access events share the topic
    if event.data["action"] == "poison":
        raise PermanentError("probe poison")
    time.sleep(float(os.environ.get("PROBE_HANDLER_SLEEP", "0")))
    uow.session.execute(insert(effects).values(event_id=event.id, applied=1).on_conflict_do_update(
        index_elements=["event_id"], set_={"applied": effects.c.applied + 1}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["relay", "relay-crash", "consumer"])
    p.add_argument("--db")
    p.add_argument("--bootstrap")
    p.add_argument("--group", default="probe")
    a = p.parse_args()
    eng = engine(a.db)
    if a.mode.startswith("relay"):
        relay = Relay(eng, tables["outbox"], a.bootstrap, poll_seconds=0.2)
        if a.mode == "relay-crash":
            # Die after the broker acked the batch and before the rows are marked published.
            relay.after_publish = lambda rows: os.kill(os.getpid(), signal.SIGKILL)
        signal.signal(signal.SIGTERM, lambda *_: relay.stop())
        relay.run()
    else:
        sf = make_session_factory(eng)
        runner = ConsumerRunner(group_id=a.group, topics=["careroute.access"], handlers={"*": apply_effect},
                                uow_factory=lambda: UnitOfWork(sf, Outbox(tables["outbox"])),
                                processed_table=tables["processed_events"], bootstrap=a.bootstrap,
                                max_poll_interval_ms=5000, session_timeout_ms=6000, retry_backoff=0.05)
        runner.install_signal_handlers()
        runner.run()


if __name__ == "__main__":
    main()
