"""Raw ceilings of this machine, measured in the same run as the platform benchmarks so that every
platform figure can be read as a fraction of what the parts underneath can do at most:
kafka-python producing (acks=all) and consuming against the broker, single-row PostgreSQL inserts
with commit, and a minimal FastAPI endpoint under uvicorn."""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def kafka_ceiling(bootstrap: str, n: int = 20_000) -> dict:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"bench.ceiling.{int(time.time())}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    payload = b"x" * 300
    started = time.perf_counter()
    futures = [producer.send(topic, key=str(i % 64).encode(), value=payload) for i in range(n)]
    producer.flush()
    for f in futures[-10:]:
        f.get(30)
    produce_rate = n / (time.perf_counter() - started)
    # single-message round trips (send + ack), the floor of any publish latency
    lat = []
    for _ in range(200):
        t = time.perf_counter()
        producer.send(topic, value=payload).get(10)
        lat.append((time.perf_counter() - t) * 1000)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=2000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got, started = 0, time.perf_counter()
    while got < n:
        for records in consumer.poll(timeout_ms=1000).values():
            got += len(records)
    consume_rate = got / (time.perf_counter() - started)
    consumer.close()
    return {"kafka_produce_per_s": produce_rate, "kafka_consume_per_s": consume_rate,
            "kafka_ack_p50_ms": statistics.median(lat)}


def postgres_ceiling(url: str, n: int = 2_000) -> dict:
    import psycopg

    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("create table if not exists bench_ceiling (id bigserial primary key, body jsonb)")
        conn.commit()
        started = time.perf_counter()
        for i in range(n):
            conn.execute("insert into bench_ceiling (body) values (%s)", ('{"n": %d}' % i,))
            conn.commit()
        rate = n / (time.perf_counter() - started)
        conn.execute("drop table bench_ceiling")
        conn.commit()
    return {"postgres_insert_commit_per_s": rate}


MINIMAL_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/ping")
def ping():
    return {"ok": True}
"""


def http_ceiling(port: int, n: int = 3_000, concurrency: int = 8) -> dict:
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp())
    (d / "minimal_app.py").write_text(MINIMAL_APP)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "minimal_app:app", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], cwd=d)
    try:
        from careroute_devstack.infra import wait_for_port

        wait_for_port(port, 20)
        lat = []
        lock = threading.Lock()
        with httpx.Client() as client:
            def one(_):
                t = time.perf_counter()
                client.get(f"http://127.0.0.1:{port}/ping")
                with lock:
                    lat.append((time.perf_counter() - t) * 1000)
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(one, range(n)))
            rate = n / (time.perf_counter() - started)
        lat.sort()
        return {"http_minimal_per_s": rate, "http_minimal_p50_ms": lat[len(lat) // 2],
                "http_minimal_p99_ms": lat[int(len(lat) * 0.99)]}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--postgres-url", required=True, help="a libpq URL (postgresql://...)")
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--json")
    a = p.parse_args()
    figures = {**kafka_ceiling(a.bootstrap), **postgres_ceiling(a.postgres_url), **http_ceiling(a.http_port)}
    for k, v in figures.items():
        print(f"{k:32} {v:12.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
