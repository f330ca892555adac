"""Fixtures for the notify service's integration tests: the real stack (PostgreSQL, broker, identity
provider), a real SMTP sink on the port the service is configured with, a real local HTTP receiver for
webhooks that checks Standard Webhooks signatures, and event builders that follow the contracts.

Timing knobs (retry backoff, poll interval, failure thresholds) are set small here so that retries and
give-ups happen within a test; nothing asserts on timing."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from kafka import KafkaProducer

from careroute_devstack.smtp_sink import SmtpSink
from careroute_devstack.testing import wait_for
from careroute_platform import contracts
from careroute_platform.cloudevents import Event, event_type, to_kafka
from notify.domain import signing

FAST = {
    "NOTIFY_DELIVERY_POLL_SECONDS": "0.2",
    "NOTIFY_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": "1.0",
    "NOTIFY_EMAIL_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_EMAIL_RETRY_MAX_SECONDS": "0.5",
    "NOTIFY_DIRECTORY_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_DIRECTORY_RETRY_MAX_SECONDS": "0.5",
    "NOTIFY_SSE_KEEPALIVE_SECONDS": "1",
    "NOTIFY_SSE_POLL_SECONDS": "1",
}


@pytest.fixture(scope="session")
def smtp_sink(stack):
    sink = SmtpSink(port=stack.cfg.smtp_port, maildir=stack.cfg.run_dir / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def notify(stack, smtp_sink, service_harness):
    os.environ.update(FAST)
    harness = service_harness("notify")
    # the harness may have been created elsewhere with default settings: apply the knobs directly too
    for name, value in FAST.items():
        attr = name.removeprefix("NOTIFY_").lower()
        setattr(harness.settings, attr, type(getattr(harness.settings, attr))(value))
    return harness


@pytest.fixture(scope="session")
def producer(stack):
    p = KafkaProducer(bootstrap_servers=stack.cfg.bootstrap, acks="all", linger_ms=2)
    yield p
    p.close(timeout=5)


@pytest.fixture(scope="session")
def publish(producer):
    def send(event: Event, topic: str | None = None) -> Event:
        key, value, headers = to_kafka(event)
        producer.send(topic or contracts.topic_for(event.aggregate), key=key, value=value, headers=headers).get(30)
        return event
    return send


@pytest.fixture(scope="session")
def sub_of(stack):
    cache: dict[str, str] = {}

    def sub(username: str) -> str:
        if username not in cache:
            cache[username] = jwt.decode(stack.token(username), options={"verify_signature": False})["sub"]
        return cache[username]
    return sub


# ------------------------------------------------------------------------------------- events
def _now() -> datetime:
    return datetime.now(timezone.utc)


def referral_event(name: str, *, case_id: str | None = None, referral_id: str | None = None,
                   referring_office: str = "/iom/tulcan", referring_caseworker: str = "cw",
                   receiving_organisation: str = "/civil-society/alas-de-colibri", priority: str = "normal",
                   service_type: str = "psychosocial", extra: dict | None = None, validate: bool = True,
                   event_id: str | None = None) -> Event:
    """A referral event shaped as contracts/events/referral.<name>.v1.json says the referral service sends it."""
    case_id = case_id or str(uuid.uuid4())
    referral_id = referral_id or str(uuid.uuid4())
    status = {"created": "pending", "accepted": "accepted", "declined": "declined", "expired": "expired",
              "revoked": "revoked", "completed": "completed", "closed": "closed",
              "deadline_approaching": "pending", "overdue": "pending"}[name]
    hours = {"emergency": 24, "urgent": 72, "normal": 336}[priority]
    data: dict = {"referral_id": referral_id, "case_id": case_id, "referring_office": referring_office,
                  "referring_caseworker": referring_caseworker, "receiving_organisation": receiving_organisation,
                  "service_type": service_type, "priority": priority, "status": status,
                  "occurred_at": _now().isoformat()}
    due = (_now() + timedelta(hours=hours)).isoformat()
    if name == "created":
        data.update(service_id=str(uuid.uuid4()), created_by=referring_caseworker, response_due_at=due,
                    expires_at=(_now() + timedelta(hours=2 * hours)).isoformat(), categories=["psychosocial_needs"],
                    services_requested=[service_type], clinical_window=None, override=False, override_kinds=[])
    elif name in ("accepted", "declined", "completed", "closed", "revoked"):
        data["acted_by"] = "someone"
    if name == "declined":
        data["reason_code"] = "no_capacity"
    if name == "revoked":
        data["reason_code"] = "survivor_request"
    if name == "closed":
        data["reason_code"] = "survivor_did_not_attend"
    if name == "completed":
        data["counter_referral"] = {"service_delivered": True, "outcome_code": "needs_met", "follow_up_advised": False,
                                    "follow_up_service_types": []}
    if name in ("deadline_approaching", "overdue", "expired"):
        data["response_due_at"] = due
    if name == "expired":
        data["expires_at"] = due
    if validate:
        contracts.validate(event_type(f"referral.{name}"), data)  # the test speaks the producer's contract
    if extra:
        data.update(extra)
    return Event(type=event_type(f"referral.{name}"), source="/careroute/referral", data=data, key=case_id,
                 **({"id": event_id} if event_id else {}))


def case_event(name: str, data: dict, *, validate: bool = True) -> Event:
    if validate:
        contracts.validate(event_type(name), data)
    key = data.get("case_id") or data.get("subject") or "k"
    return Event(type=event_type(name), source="/careroute/intake", data=data, key=key)


@pytest.fixture(scope="session")
def events():
    return type("Events", (), {"referral": staticmethod(referral_event), "case": staticmethod(case_event)})


# ------------------------------------------------------------------------------------- webhooks
@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float


@dataclass
class Receiver:
    """A local HTTP server standing in for an institution's system."""
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)     # path -> failures left before success
    failing: set[str] = field(default_factory=set)          # paths answering 500
    slow_seconds: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 30.0) -> list[Received]:
        return wait_for(lambda: self.at(path) if len(self.at(path)) >= count else None, timeout,
                        message=f"{count} webhook(s) at {path}")


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        r = self.server.receiver  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        with r.lock:
            r.received.append(Received(path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
            flaky_left = r.flaky.get(path, 0)
            if flaky_left:
                r.flaky[path] = flaky_left - 1
        if path.startswith("/slow"):
            time.sleep(r.slow_seconds)
        if path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("location", r.url("/redirect-target"))
            self.end_headers()
            return
        status = 500 if (path in r.failing or flaky_left) else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    r = Receiver(server)
    server.receiver = r  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield r
    server.shutdown()


@pytest.fixture(scope="session")
def verify_signature():
    return check_signature


def check_signature(received: Received, secrets: list[str], tolerance: int = 300) -> dict:
    """What an institution's system does with a delivery (Standard Webhooks)."""
    h = received.headers
    timestamp = int(h["webhook-timestamp"])
    assert abs(time.time() - timestamp) < tolerance
    for secret in secrets:
        assert signing.verify(secret, h["webhook-id"], timestamp, received.body, h["webhook-signature"]), \
            "signature does not verify"
    return json.loads(received.body)


@pytest.fixture(scope="session")
def msp_system(stack):
    """The MSP hospital's institutional client (integration-client, /government/msp/hospital-tulcan)."""
    def headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {stack.client_token('msp-hospital-tulcan-system')}"}
    return headers


@pytest.fixture(scope="session")
def register_endpoint(notify, msp_system):
    def register(url: str, event_types: list[str], headers: dict | None = None) -> dict:
        r = notify.client.post("/v1/webhooks/endpoints", headers=headers or msp_system(),
                               json={"url": url, "event_types": event_types})
        assert r.status_code == 201, r.text
        return r.json()
    return register


def inbox(notify, user: str, **params) -> list[dict]:
    r = notify.call("GET", "/v1/inbox", user=user, params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture(scope="session")
def inbox_of(notify):
    def get(user: str, **params) -> list[dict]:
        return inbox(notify, user, **params)
    return get


@pytest.fixture(scope="session")
def entry_for(notify):
    def find(user: str, *, referral_id: str | None = None, case_id: str | None = None, kind: str | None = None,
             timeout: float = 30.0) -> dict:
        def look():
            for item in inbox(notify, user):
                if referral_id and item["referral_id"] != referral_id:
                    continue
                if case_id and item["case_id"] != case_id:
                    continue
                if kind and item["kind"] != kind:
                    continue
                return item
            return None
        return wait_for(look, timeout, interval=0.2, message=f"an inbox entry for {user}")
    return find


@pytest.fixture(scope="session")
def mail_for(smtp_sink):
    def find(address: str, needle: str, timeout: float = 30.0):
        def look():
            for m in smtp_sink.to(address):
                if needle in str(m.message["Subject"]):
                    return m
            return None
        return wait_for(look, timeout, interval=0.1, message=f"an e-mail to {address}")
    return find


@pytest.fixture
def db(notify):
    from sqlalchemy.orm import Session

    with Session(notify.runtime.engine) as session:
        yield session
