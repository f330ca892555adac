"""Benchmark of the notify service: time from a referral event on the broker to the inbox entry and to
the signed webhook delivery at an institution's receiver.

Starts the embedded parts (PostgreSQL, the broker, the development identity provider, an SMTP sink), runs
notify in-process (API, relay, consumer, e-mail and webhook workers) exactly as the test harness does,
registers a webhook endpoint for the MSP hospital's system pointing at a local receiver (a process of its own,
as is the SMTP sink, so neither competes with the service for its interpreter), then publishes
`referral.created` events at a steady rate and records, per event:

- inbox: when the entry became visible: the consumer's commit NOTIFYs the inbox channel (the same signal the
  live inbox stream wakes on), the bench LISTENs on it and checks which awaited entries now exist;
- webhook: when the receiver got the POST (every signature is verified afterwards; failures are counted).

Prints p50/p95/p99/max in milliseconds. Use --json PATH to also write the figures.

    .venv/bin/python bench/notify_bench.py [--events 300] [--rate 20] [--warmup 20] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for part in ("libs/platform/src", "devstack/src", "services/notify/src"):
    if str(ROOT / part) not in sys.path:
        sys.path.insert(0, str(ROOT / part))

from kafka import KafkaProducer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from careroute_devstack.infra import Broker, Postgres, wait_for_port  # noqa: E402
from careroute_devstack.stack import StackConfig, create_topics  # noqa: E402
from careroute_devstack.testing import RunningStack, ServiceHarness, start_idp  # noqa: E402
from careroute_platform.cloudevents import Event, event_type, to_kafka  # noqa: E402
from notify.adapters.orm import notifications  # noqa: E402
from notify.domain import signing  # noqa: E402
from notify.service_layer.notices import INBOX_CHANNEL  # noqa: E402

MSP = "/government/msp/hospital-tulcan"


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(p: float) -> float:
        k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
        return round(ordered[k], 2)
    return {"count": len(ordered), "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2)}


def referral_created() -> Event:
    now = datetime.now(timezone.utc)
    case_id = str(uuid.uuid4())
    data = {"referral_id": str(uuid.uuid4()), "case_id": case_id, "referring_office": "/iom/tulcan",
            "referring_caseworker": "bench", "receiving_organisation": MSP, "service_type": "health_cmr",
            "priority": "emergency", "status": "pending", "occurred_at": now.isoformat(),
            "service_id": str(uuid.uuid4()), "created_by": "bench",
            "response_due_at": (now + timedelta(hours=24)).isoformat(),
            "expires_at": (now + timedelta(hours=48)).isoformat(), "categories": ["health_needs"],
            "services_requested": ["health_cmr"], "clinical_window": None, "override": False, "override_kinds": []}
    return Event(type=event_type("referral.created"), source="/careroute/referral", data=data, key=case_id)


def _receive(port_queue, log_path: str) -> None:
    """The institution's system, in a process of its own (it must not share the service's interpreter):
    answers 204 and logs each delivery's arrival time, headers and body for verification afterwards."""
    log = open(log_path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            at = time.time()
            self.send_response(204)
            self.end_headers()
            log.write(json.dumps({"at": at, "id": self.headers["webhook-id"], "ts": self.headers["webhook-timestamp"],
                                  "sig": self.headers["webhook-signature"], "body": body.decode()}) + "\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


class Receiver:
    def __init__(self, run_dir: Path) -> None:
        import multiprocessing

        self.log_path = run_dir / "webhooks.jsonl"
        self.log_path.touch()
        ctx = multiprocessing.get_context("spawn")
        ports = ctx.Queue()
        self.process = ctx.Process(target=_receive, args=(ports, str(self.log_path)), daemon=True)
        self.process.start()
        self.port = ports.get(timeout=30)
        self.secret: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/msp/referrals"

    def arrivals(self) -> tuple[dict[str, float], int]:
        """First arrival per message id, and how many deliveries failed signature verification."""
        seen: dict[str, float] = {}
        bad = 0
        for line in self.log_path.read_text().splitlines():
            d = json.loads(line)
            if not signing.verify(self.secret, d["id"], int(d["ts"]), d["body"].encode(), d["sig"]):
                bad += 1
            seen.setdefault(d["id"], d["at"])
        return seen, bad

    def stop(self) -> None:
        self.process.terminate()


class InboxWatcher:
    """Sees inbox entries appear: LISTENs on the channel the consumer NOTIFYs when its transaction commits,
    then looks up which awaited events now have an entry (no busy polling to disturb the service)."""

    def __init__(self, engine) -> None:
        import psycopg

        self.engine = engine
        self.waiting: set[str] = set()
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.listener = psycopg.connect(url, autocommit=True)
        self.listener.execute(f"LISTEN {INBOX_CHANNEL}")
        threading.Thread(target=self.run, daemon=True).start()

    def expect(self, event_id: str) -> None:
        with self.lock:
            self.waiting.add(event_id)

    def run(self) -> None:
        import select as _select

        with self.engine.connect() as conn:
            while not self.stopping.is_set():
                ready, _, _ = _select.select([self.listener.fileno()], [], [], 0.05)
                at = time.time()
                if ready:
                    for _ in self.listener.notifies(timeout=0, stop_after=10_000):
                        pass
                with self.lock:
                    ids = list(self.waiting)
                if not ids:
                    continue
                found = [r.event_id for r in conn.execute(
                    select(notifications.c.event_id).where(notifications.c.event_id.in_(ids)))]
                conn.rollback()
                with self.lock:
                    for event_id in found:
                        self.seen.setdefault(event_id, at)
                        self.waiting.discard(event_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="careroute-notify-bench-"))
    cfg = StackConfig.ephemeral(run_dir)
    print("starting the embedded stack ...", flush=True)
    pg = Postgres(run_dir / "pgdata", cfg.pg_port).start()
    broker = Broker(cfg.broker_port, run_dir).start()
    create_topics(cfg.bootstrap)
    idp = start_idp(cfg)
    sink = subprocess.Popen([sys.executable, "-m", "careroute_devstack.smtp_sink", "--port", str(cfg.smtp_port),
                             "--maildir", str(run_dir / "mail")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(cfg.smtp_port, 30, sink)
    stack = RunningStack(cfg, pg, broker, idp)
    harness = None
    producer = None
    receiver = None
    try:
        os.environ["NOTIFY_LOG_LEVEL"] = "WARNING"
        harness = ServiceHarness(stack, "notify")
        receiver = Receiver(run_dir)
        token = stack.client_token("msp-hospital-tulcan-system")
        r = harness.client.post("/v1/webhooks/endpoints", headers={"Authorization": f"Bearer {token}"},
                                json={"url": receiver.url, "event_types": ["referral.created"]})
        r.raise_for_status()
        receiver.secret = r.json()["secret"]
        watcher = InboxWatcher(harness.runtime.engine)
        producer = KafkaProducer(bootstrap_servers=cfg.bootstrap, acks="all", linger_ms=0)

        def publish(count: int, record: dict[str, float] | None) -> None:
            interval = 1.0 / args.rate
            next_at = time.monotonic()
            for _ in range(count):
                event = referral_created()
                key, value, headers = to_kafka(event)
                watcher.expect(event.id)
                sent_at = time.time()
                producer.send("careroute.referral", key=key, value=value, headers=headers).get(30)
                if record is not None:
                    record[event.id] = sent_at
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

        print(f"warming up with {args.warmup} events ...", flush=True)
        publish(args.warmup, None)
        time.sleep(3)
        sent: dict[str, float] = {}
        print(f"publishing {args.events} referral.created events at {args.rate}/s ...", flush=True)
        started = time.monotonic()
        publish(args.events, sent)
        deadline = time.monotonic() + 120
        arrivals, bad = receiver.arrivals()
        while time.monotonic() < deadline and (any(e not in watcher.seen for e in sent)
                                               or any(e not in arrivals for e in sent)):
            time.sleep(0.2)
            arrivals, bad = receiver.arrivals()
        elapsed = time.monotonic() - started
        watcher.stopping.set()
        inbox_ms = [(watcher.seen[e] - t) * 1000 for e, t in sent.items() if e in watcher.seen]
        webhook_ms = [(arrivals[e] - t) * 1000 for e, t in sent.items() if e in arrivals]
        result = {
            "benchmark": "notify: referral event on the broker -> inbox entry / webhook delivery",
            "events": args.events, "rate_per_second": args.rate, "elapsed_seconds": round(elapsed, 2),
            "inbox_ms": percentiles(inbox_ms), "webhook_ms": percentiles(webhook_ms),
            "missing": {"inbox": args.events - len(inbox_ms), "webhook": args.events - len(webhook_ms)},
            "bad_signatures": bad,
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
        }
        print()
        print(f"{'':24}{'count':>7}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}   (ms)")
        for name in ("inbox_ms", "webhook_ms"):
            f = result[name]
            label = "event -> inbox entry" if name == "inbox_ms" else "event -> webhook received"
            print(f"{label:24}{f.get('count', 0):>7}{f.get('p50', 0):>10}{f.get('p95', 0):>10}"
                  f"{f.get('p99', 0):>10}{f.get('max', 0):>10}")
        print(f"\nmissing: {result['missing']}   bad signatures: {bad}   "
              f"elapsed: {result['elapsed_seconds']} s   load average: {result['machine']['load_average_1_5_15']}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
            print(f"written to {args.json}")
    finally:
        if producer is not None:
            producer.close(timeout=5)
        if harness is not None:
            harness.stop()
        if receiver is not None:
            receiver.stop()
        sink.terminate()
        idp.terminate()
        broker.stop()
        pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
