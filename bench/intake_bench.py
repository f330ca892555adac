"""Benchmark of survivor registration (POST /v1/cases) on the real embedded stack.

Starts PostgreSQL, the Kafka-protocol broker and the development identity provider on free
loopback ports, runs the intake service as a separate process (`python -m intake all`: uvicorn API,
outbox relay and workers), then registers survivors from N threads and prints registrations per
second and latency percentiles, plus how long the outbox relay took to publish every event.
Each registration is a full one: consent with a sharing scope, sealed identity, an incident, needs,
risk — five to six events per case through the outbox.

    .venv/bin/python services/intake/bench/intake_bench.py [--concurrency 8] [--registrations 300]
                                                           [--json PATH] [--url URL --user NAME]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx


def body(i: int) -> dict:
    now = datetime.now(UTC)
    return {
        "consent": {"given_by": "survivor", "given_at": (now - timedelta(minutes=5)).isoformat(), "registration": True,
                    "reporting": i % 3 != 0,
                    "sharing": [{"recipient_organisation": "/civil-society/alas-de-colibri",
                                 "categories": ["health_needs", "psychosocial_needs"]}]},
        "survivor": {"given_names": f"Bench{uuid.uuid4().hex[:8]}", "family_names": "Prueba",
                     "date_of_birth": f"19{70 + i % 30}-0{1 + i % 9}-1{i % 9}", "phone": "+593 99 000 0000",
                     "document_type": "passport", "document_number": f"BX{i:07d}"},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "irregular_migrant",
                    "languages": ["es"], "province": "04", "canton": "0401"},
        "incident": {"occurred_on": (now - timedelta(days=3)).date().isoformat(), "time_of_day": "night",
                     "location_type": "street", "province": "04", "canton": "0401",
                     "gbvims_type": "rape" if i % 4 == 0 else "physical_assault", "legal_types": ["fisica"],
                     "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40", "relationship": "no_relation"}},
        "needs": ["psychosocial", "health_cmr"],
        "risk": {"level": "medium"},
    }


class Tokens:
    def __init__(self, token_url: str, user: str, password: str) -> None:
        self.token_url, self.user, self.password = token_url, user, password
        self._token, self._expires, self._lock = None, 0.0, threading.Lock()

    def header(self) -> dict:
        with self._lock:
            if self._token is None or time.time() > self._expires - 30:
                r = httpx.post(self.token_url, data={"grant_type": "password", "client_id": "careroute-cli",
                                                     "username": self.user, "password": self.password})
                r.raise_for_status()
                self._token = r.json()["access_token"]
                self._expires = time.time() + r.json().get("expires_in", 300)
            return {"Authorization": f"Bearer {self._token}"}


def run_load(url: str, tokens: Tokens, total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    counter = iter(range(total))
    lock = threading.Lock()

    def worker():
        with httpx.Client(base_url=url, timeout=60) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                r = client.post("/v1/cases", json=body(i),
                                headers={**tokens.header(), "Idempotency-Key": str(uuid.uuid4())})
                elapsed = time.perf_counter() - started
                with lock:
                    if r.status_code == 201:
                        latencies.append(elapsed)
                    else:
                        errors[r.status_code] = errors.get(r.status_code, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000 if ordered else float("nan")

    return {"registrations": len(latencies), "errors": errors, "concurrency": concurrency, "wall_seconds": round(wall, 3),
            "registrations_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
            "latency_ms": {"p50": round(pct(50), 1), "p95": round(pct(95), 1), "p99": round(pct(99), 1),
                           "mean": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
                           "max": round(ordered[-1] * 1000, 1) if ordered else None}}


def outbox_backlog(url: str) -> float | None:
    try:
        for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
            if line.startswith("outbox_backlog "):
                return float(line.split()[1])
    except httpx.HTTPError:
        return None
    return None


def embedded_run(args) -> dict:
    from careroute_devstack.infra import Broker, Postgres, free_port, wait_for_port
    from careroute_devstack.stack import (
        REALM_FILE,
        StackConfig,
        create_topics,
        provision_database,
        service_env,
        service_password,
    )

    run_dir = Path(tempfile.mkdtemp(prefix="careroute-bench-"))
    cfg = StackConfig.ephemeral(run_dir)
    pg = Postgres(run_dir / "pgdata", cfg.pg_port).start()
    broker = Broker(cfg.broker_port, run_dir).start()
    procs: list[subprocess.Popen] = []
    try:
        create_topics(cfg.bootstrap)
        idp_log = open(run_dir / "idp.log", "ab")  # noqa: SIM115 - the child process keeps it
        procs.append(subprocess.Popen([sys.executable, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE),
                                       "--host", "127.0.0.1", "--port", str(cfg.idp_port)], stdout=idp_log,
                                      stderr=idp_log, start_new_session=True))
        wait_for_port(cfg.idp_port, 30, procs[-1])
        db_url, migration_url = provision_database(pg, "intake", service_password("intake", run_dir))
        env = {**os.environ, **service_env("intake", cfg, db_url, migration_url), "INTAKE_LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "intake", "migrate"], env=env, check=True, capture_output=True)
        log = open(run_dir / "intake.log", "ab")  # noqa: SIM115 - the child process keeps it
        procs.append(subprocess.Popen([sys.executable, "-m", "intake", "all"], env=env, stdout=log, stderr=log,
                                      start_new_session=True))
        url = cfg.service_url("intake")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("intake did not become ready")
        return measure(url, f"{cfg.issuer}/protocol/openid-connect/token", args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        broker.stop()
        pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
        _ = free_port


def measure(url: str, token_url: str, args) -> dict:
    tokens = Tokens(token_url, args.user, args.password)
    run_load(url, tokens, total=min(20, args.registrations), concurrency=2)  # warm-up: connections, JIT caches
    result = run_load(url, tokens, total=args.registrations, concurrency=args.concurrency)
    started = time.perf_counter()
    backlog = outbox_backlog(url)
    while backlog not in (None, 0.0) and time.perf_counter() - started < 120:
        time.sleep(0.2)
        backlog = outbox_backlog(url)
    result["outbox_drained_seconds_after_load"] = round(time.perf_counter() - started, 2) if backlog == 0.0 else None
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--registrations", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--url", help="an already running intake service (else an embedded stack is started)")
    parser.add_argument("--token-url", help="with --url: the realm's token endpoint")
    parser.add_argument("--user", default="caseworker.tulcan")
    parser.add_argument("--password", default="careroute-dev")
    args = parser.parse_args()
    result = measure(args.url, args.token_url, args) if args.url else embedded_run(args)
    lat = result["latency_ms"]
    print(f"intake registrations: {result['registrations']} ok, errors {result['errors'] or 'none'}, "
          f"concurrency {result['concurrency']}")
    print(f"  throughput   {result['registrations_per_second']} registrations/s ({result['wall_seconds']} s)")
    print(f"  latency ms   p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}")
    print(f"  outbox drained {result['outbox_drained_seconds_after_load']} s after the last registration")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
