"""Benchmark of the referral service on the real embedded parts (PostgreSQL, Tansu broker, the
development identity provider), through its HTTP API with real tokens, in-process.

Prints:
- referral transitions per second (accept + complete with a counter-referral, each with If-Match,
  row lock, state machine, outbox and access event), sequentially and with concurrent clients;
- the time from referral.created being committed with its outbox row (the POST has returned) to the
  event being visible to a consumer on the broker: p50 / p95 / p99.

    .venv/bin/python bench/referral_bench.py [--referrals 200] [--clients 4] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from careroute_devstack.infra import Broker, Postgres
    from careroute_devstack.stack import StackConfig, create_topics
    from careroute_devstack.testing import RunningStack, ServiceHarness, start_idp
    from careroute_platform.cloudevents import from_kafka
    from kafka import KafkaConsumer, TopicPartition
    from referral.adapters.orm import cases, consents
    from referral.service_layer.seed import _id

    run_dir = Path(tempfile.mkdtemp(prefix="careroute-bench-"))
    cfg = StackConfig.ephemeral(run_dir)
    pg = Postgres(run_dir / "pgdata", cfg.pg_port).start()
    broker = Broker(cfg.broker_port, run_dir).start()
    create_topics(cfg.bootstrap)
    idp = start_idp(cfg)
    stack = RunningStack(cfg, pg, broker, idp)
    harness = None
    try:
        harness = ServiceHarness(stack, "referral")
        service_id = _id("service", "/government/msp/hospital-tulcan", "cmr")
        caseworker_sub = "bench-caseworker"
        n = args.referrals
        case_ids = [str(uuid.uuid4()) for _ in range(2 * n)]
        with harness.runtime.engine.begin() as conn:   # projections as intake's events would leave them
            conn.execute(insert(cases), [{"case_id": c, "registered": True, "office": "/iom/tulcan",
                                          "caseworker": caseworker_sub, "age_band": "26_40", "sex": "female",
                                          "nationality": "VE", "mobility_status": "refugee", "province": "04",
                                          "canton": "0401", "risk_level": "medium", "reporting_consent": True}
                                         for c in case_ids])
            conn.execute(insert(consents), [{"consent_id": str(uuid.uuid4()), "case_id": c, "office": "/iom/tulcan",
                                             "recipient_organisation": "/government/msp/hospital-tulcan",
                                             "purpose": "sharing", "granted": True,
                                             "granted_categories": ["identity", "health_needs"]} for c in case_ids])
        caseworker = stack.auth("caseworker.tulcan")
        provider = stack.auth("provider.msp-tulcan")
        client = harness.client

        # -- a consumer watching careroute.referral from its current end --------------------------
        # fetch_max_wait_ms: do not let the broker hold a fetch open; we measure the pipeline, not the wait
        consumer = KafkaConsumer(bootstrap_servers=cfg.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
        parts = [TopicPartition("careroute.referral", p) for p in consumer.partitions_for_topic("careroute.referral")]
        consumer.assign(parts)
        consumer.seek_to_end(*parts)
        for tp in parts:
            consumer.position(tp)
        seen: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    now = time.perf_counter()
                    for record in records:
                        event = from_kafka(record.key, record.value, record.headers)
                        if event.type.endswith("referral.created.v1"):
                            seen.setdefault(event.data["referral_id"], now)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        # -- creation, one at a time: commit -> visible on the broker ------------------------------
        committed: dict[str, float] = {}
        created_ids = []
        t = time.perf_counter()
        for case_id in case_ids[:n]:
            r = client.post("/v1/referrals", headers=caseworker, json={
                "case_id": case_id, "service_id": service_id, "priority": "urgent",
                "categories": ["identity", "health_needs"], "reason": "bench"})
            assert r.status_code == 201, r.text
            committed[r.json()["id"]] = time.perf_counter()
            created_ids.append((r.json()["id"], r.headers["etag"]))
            time.sleep(0.01)  # paced like real traffic, so latency is not queueing behind a burst
        create_s = time.perf_counter() - t
        deadline = time.time() + 60
        while len(seen) < n and time.time() < deadline:
            time.sleep(0.05)
        latencies_ms = [(seen[i] - committed[i]) * 1000 for i in committed if i in seen]

        # -- transitions, sequential ----------------------------------------------------------------
        half = n // 2

        def answer(item) -> int:
            rid, etag = item
            a = client.post(f"/v1/referrals/{rid}/accept", headers={**provider, "If-Match": etag})
            assert a.status_code == 200, a.text
            c = client.post(f"/v1/referrals/{rid}/complete", headers={**provider, "If-Match": a.headers["etag"]},
                            json={"service_delivered": True, "outcome_code": "needs_met"})
            assert c.status_code == 200, c.text
            return 2

        t = time.perf_counter()
        transitions = sum(answer(item) for item in created_ids[:half])
        sequential_tps = transitions / (time.perf_counter() - t)

        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            transitions = sum(pool.map(answer, created_ids[half:]))
        concurrent_tps = transitions / (time.perf_counter() - t)
        stop.set()
        watcher.join(5)
        consumer.close()

        figures = {
            "referrals": n,
            "create_per_second_sequential": round(n / create_s, 1) if create_s else None,
            "transitions_per_second_sequential": round(sequential_tps, 1),
            f"transitions_per_second_{args.clients}_clients": round(concurrent_tps, 1),
            "created_to_consumer_ms": {
                "samples": len(latencies_ms),
                "p50": round(percentile(latencies_ms, 50), 1), "p95": round(percentile(latencies_ms, 95), 1),
                "p99": round(percentile(latencies_ms, 99), 1), "max": round(max(latencies_ms), 1),
                "mean": round(statistics.mean(latencies_ms), 1)},
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                        "platform": platform.platform()},
            "measured_at": datetime.now(UTC).isoformat(),
        }
        print(f"referrals created (sequential, paced 10 ms): {n}  ({figures['create_per_second_sequential']}/s incl. pacing)")
        print(f"transitions/s sequential (accept+complete):  {figures['transitions_per_second_sequential']}")
        print(f"transitions/s with {args.clients} clients:              "
              f"{figures[f'transitions_per_second_{args.clients}_clients']}")
        lat = figures["created_to_consumer_ms"]
        print(f"referral.created commit -> consumer (ms):    p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  "
              f"max {lat['max']}  (n={lat['samples']})")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if harness is not None:
            harness.stop()
        idp.terminate()
        broker.stop()
        pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
