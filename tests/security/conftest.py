"""The security suite's shared world: the four services on the real embedded stack (PostgreSQL,
Tansu broker, development identity provider, an SMTP sink and a local webhook receiver), and a set
of records built through the real APIs that every test file reuses:

- cases registered in intake by three offices (IOM Tulcán, IOM Quito / Centro AMOR, and the partner
  Alas de Colibrí), with unique marker values planted in every personal-data field;
- referral R1 (Tulcán case -> Alas de Colibrí, psychosocial) accepted by provider.alas, so Alas may
  read the consented categories through intake; R2 (Tulcán case -> MSP hospital Tulcán) left pending
  and announced to the hospital's webhook; R3 completed with a counter-referral, R4 declined;
- a pending transfer Tulcán -> Quito, notes, consents, inbox entries, e-mails, webhook deliveries,
  audit entries and checkpoints.

Records are built once per test run (session scope): the matrix, the fuzzer, the hardening tests and
the leak scan all look at the same world, and the leak scan (the last file) scans everything the run
produced. Helpers live here (not in a separate module) so test files can `from .conftest import ...`
under pytest's importlib import mode, as the services' own suites do.
"""
from __future__ import annotations

import io
import logging
import os
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import yaml
from careroute_devstack.testing import wait_for
from careroute_platform.logging import PersonalDataGuard
from careroute_platform.outbox import wait_until_published
from pythonjsonlogger.json import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
SECURITY_MODEL = ROOT / "docs" / "security-model.md"
SERVICES = ("intake", "referral", "notify", "audit")

TULCAN, QUITO, LAGO_AGRIO = "/iom/tulcan", "/iom/centro-amor-quito", "/iom/lago-agrio"
ALAS, QUIMERA, HIAS = "/civil-society/alas-de-colibri", "/civil-society/quimera", "/civil-society/hias"
MSP_TULCAN, FISCALIA = "/government/msp/hospital-tulcan", "/government/fiscalia/carchi"

# Notify's timing knobs, small so deliveries happen within a test (nothing asserts on timing).
NOTIFY_FAST = {
    "NOTIFY_DELIVERY_POLL_SECONDS": "0.2",
    "NOTIFY_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": "2.0",
    "NOTIFY_EMAIL_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_EMAIL_RETRY_MAX_SECONDS": "0.5",
    "NOTIFY_DIRECTORY_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_DIRECTORY_RETRY_MAX_SECONDS": "0.5",
}


# ============================================================================ the security model
def security_matrix() -> dict:
    """The machine-readable matrix: the first ```yaml block of docs/security-model.md."""
    text = SECURITY_MODEL.read_text(encoding="utf-8")
    found = re.search(r"```yaml\n(.*?)\n```", text, re.DOTALL)
    assert found, "docs/security-model.md has no ```yaml block"
    return yaml.safe_load(found.group(1))


# ============================================================================ markers
@dataclass
class Markers:
    """Unique planted values. Every one must stay inside intake's vault (and, for the referral's
    free text, inside the referral service); the leak scan looks for each and its variants."""
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    values: dict = field(default_factory=dict)

    def text(self, label: str) -> str:
        value = f"Qzx7Marker{label}{self.run}{uuid.uuid4().hex[:6]}"
        self.values[label] = value
        return value

    def phone(self, label: str) -> str:
        digits = "".join(random.choice("0123456789") for _ in range(7))
        value = f"+593 98 {digits[:3]} {digits[3:]}"
        self.values[label] = value
        return value

    def document(self, label: str) -> str:
        value = "QZX7" + "".join(random.choice("0123456789") for _ in range(8))
        self.values[label] = value
        return value

    def email(self, label: str) -> str:
        value = f"qzx7.{label.lower()}.{self.run}@example.org"
        self.values[label] = value
        return value

    def variants(self, labels: list[str] | None = None) -> dict[str, str]:
        """label -> needle (lower case), with the shapes a value takes once reformatted:
        phone digits only / with the country code dropped, dates in the usual formats."""
        out: dict[str, str] = {}
        for label, value in self.values.items():
            if labels is not None and label not in labels:
                continue
            out[label] = value.lower()
            if value.startswith("+"):
                digits = re.sub(r"\D", "", value)
                out[f"{label}/digits"] = digits
                out[f"{label}/national"] = "0" + digits[3:]
                out[f"{label}/nospace"] = value.replace(" ", "")
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                y, m, d = value.split("-")
                out[f"{label}/dmy"] = f"{d}/{m}/{y}"
                out[f"{label}/compact"] = f"{y}{m}{d}"
            if "@" in value:
                out[f"{label}/local-part"] = value.split("@")[0]
        return out


def find_markers(blob: str | bytes, needles: dict[str, str]) -> list[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, (bytes, bytearray)) else str(blob)
    low = text.lower()
    return [label for label, needle in needles.items() if needle in low]


# ============================================================================ log capture
class RawRecords(logging.Handler):
    """Keeps every record as emitted (before any redaction) with all its attributes."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.name} {record.levelname} {record.getMessage()} {vars(record)!r}"
        except Exception:  # noqa: BLE001 - a broken record must not break the run
            line = f"{record.name} {record.levelname} {record.msg!r} {record.args!r}"
        with self._lock2:
            self.lines.append(line)


class NotTheTestClient(logging.Filter):
    """The tests' own in-process HTTP client (host `testserver`) logs every URL it calls, markers in
    query strings included; it is not part of any service, so its records are not the services' logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("httpx"):
            try:
                return "://testserver" not in record.getMessage()
            except Exception:  # noqa: BLE001 - unformattable: keep it, the scan will see it
                return True
        return True


@dataclass
class LogCapture:
    raw: RawRecords
    stream: io.StringIO

    def text(self) -> str:
        return "\n".join(self.raw.lines) + "\n" + self.stream.getvalue()


@pytest.fixture(scope="session")
def captured_logs():
    """Every logger at DEBUG (kafka-python's own chatter at INFO: anything it could log is on the
    topics, which are scanned record by record), both raw and through the platform's JSON
    formatter with its personal-data guard, as production writes it."""
    root = logging.getLogger()
    raw = RawRecords()
    raw.addFilter(NotTheTestClient())
    stream = io.StringIO()
    formatted = logging.StreamHandler(stream)
    formatted.setLevel(logging.DEBUG)
    formatted.addFilter(NotTheTestClient())
    formatted.addFilter(PersonalDataGuard())
    formatted.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    previous = root.level
    root.addHandler(raw)          # first: sees records before the guard rewrites them
    root.addHandler(formatted)
    root.setLevel(logging.DEBUG)
    quiet = {name: logging.getLogger(name).level for name in ("kafka", "aiosmtpd", "mail.log", "hpack", "asyncio")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.INFO)
    yield LogCapture(raw, stream)
    root.removeHandler(raw)
    root.removeHandler(formatted)
    root.setLevel(previous)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


# ============================================================================ SMTP sink + webhook receiver
@dataclass
class Mailbox:
    sink: object | None
    maildir: Path

    def messages(self) -> list[bytes]:
        found = []
        if self.sink is not None:
            found += [m.raw for m in list(self.sink.messages)]
        if self.maildir.exists():
            found += [p.read_bytes() for p in sorted(self.maildir.glob("*.eml"))]
        return found


@pytest.fixture(scope="session")
def mailbox(stack):
    from careroute_devstack.smtp_sink import SmtpSink

    maildir = stack.cfg.run_dir / "mail"
    try:
        sink = SmtpSink(port=stack.cfg.smtp_port, maildir=maildir).start()
    except OSError:  # another suite's sink already listens there; its maildir is the same
        sink = None
    yield Mailbox(sink, maildir)
    if sink is not None:
        sink.stop()


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class WebhookReceiver:
    """A local HTTP server standing in for an institution's system; keeps every request."""

    def __init__(self) -> None:
        receiver = self
        self.received: list[Received] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def receiver():
    r = WebhookReceiver()
    yield r
    r.stop()


# ============================================================================ the services
@dataclass
class Platform:
    stack: object
    harnesses: dict
    mailbox: Mailbox
    logs: LogCapture

    def __getitem__(self, name: str):
        return self.harnesses[name]

    def sub(self, user: str) -> str:
        return jwt.decode(self.stack.token(user), options={"verify_signature": False})["sub"]

    def bearer(self, user: str) -> dict:
        if user.endswith("-system"):
            return {"Authorization": f"Bearer {client_token(self.stack, user)}"}
        return self.stack.auth(user)

    def call(self, service: str, method: str, path: str, user: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if user:
            headers.update(self.bearer(user))
        return self.harnesses[service].client.request(method, path, headers=headers, **kwargs)

    def call_patiently(self, service: str, method: str, path: str, user: str | None = None, **kwargs):
        """As `call`, but a 429 of a per-caller rate limit (the budget may have been spent by another
        suite in the same run) is waited out, as a well-behaved client does; a 429 is never an
        authorisation answer. Only for tests that are not about rate limits."""
        for _ in range(3):
            r = self.call(service, method, path, user=user, **kwargs)
            wait = r.headers.get("retry-after", "")
            if r.status_code != 429 or not wait.isdigit() or int(wait) > 20:
                return r
            time.sleep(int(wait))
        return r

    def drain(self) -> None:
        """Every service's outbox published (not: consumed)."""
        for h in self.harnesses.values():
            wait_until_published(h.runtime.engine, h.runtime.outbox_table, timeout=60)


_client_tokens: dict[str, tuple[str, float]] = {}


def client_token(stack, client_id: str) -> str:
    cached = _client_tokens.get(client_id)
    if cached and cached[1] > time.time() + 60:
        return cached[0]
    token = stack.client_token(client_id)
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp", time.time() + 120)
    _client_tokens[client_id] = (token, float(exp))
    return token


@pytest.fixture(scope="session")
def platform(stack, service_harness, mailbox, captured_logs):
    os.environ.update(NOTIFY_FAST)
    harnesses = {}
    for name in SERVICES:
        harnesses[name] = service_harness(name)
    notify = harnesses["notify"]
    for env_name, value in NOTIFY_FAST.items():  # the harness may predate our environment
        attr = env_name.removeprefix("NOTIFY_").lower()
        if hasattr(notify.settings, attr):
            setattr(notify.settings, attr, type(getattr(notify.settings, attr))(value))
    return Platform(stack, harnesses, mailbox, captured_logs)


# ============================================================================ request builders
def now_iso(offset_seconds: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


def incident_body(*, days_ago: int = 3, gbvims_type: str = "physical_assault", legal_types=("fisica",)) -> dict:
    occurred = (datetime.now(timezone(timedelta(hours=-5))) - timedelta(days=days_ago)).date()
    return {"occurred_on": occurred.isoformat(), "time_of_day": "unknown", "location_type": "street",
            "province": "04", "canton": "0401", "gbvims_type": gbvims_type, "legal_types": list(legal_types),
            "perpetrators": {"count": 1, "sex": "male", "age_group": "26_40", "relationship": "no_relation"}}


def registration_body(markers: Markers, tag: str, *, sharing: list | None = None, province: str = "04",
                      canton: str = "0401") -> dict:
    """A registration with a marker in every personal-data field."""
    return {
        "consent": {"given_by": "survivor", "given_at": now_iso(-60), "registration": True, "reporting": True,
                    "sharing": sharing or []},
        "survivor": {"given_names": markers.text(f"{tag}Given"), "family_names": markers.text(f"{tag}Family"),
                     "date_of_birth": _dob(markers, tag), "phone": markers.phone(f"{tag}Phone"),
                     "address": markers.text(f"{tag}Address"), "document_type": "passport",
                     "document_number": markers.document(f"{tag}Document"),
                     "caregiver": {"given_names": markers.text(f"{tag}CareGiven"),
                                   "family_names": markers.text(f"{tag}CareFamily"), "relationship": "other_relative",
                                   "phone": markers.phone(f"{tag}CarePhone")}},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "irregular_migrant",
                    "languages": ["es"], "province": province, "canton": canton},
        "incident": incident_body(),
        "needs": ["psychosocial", "health_cmr", "legal_aid"],
        "risk": {"level": "high", "safety_plan": "Plan " + markers.text(f"{tag}SafetyPlan")},
    }


def _dob(markers: Markers, tag: str) -> str:
    # An unusual but valid adult date of birth, unique per case.
    value = f"19{random.randint(62, 88)}-0{random.randint(1, 9)}-{random.randint(10, 28)}"
    markers.values[f"{tag}DateOfBirth"] = value
    return value


def sharing(organisation: str, *categories: str) -> dict:
    return {"recipient_organisation": organisation, "categories": list(categories)}


# ============================================================================ the world
@dataclass
class World:
    p: Platform
    markers: Markers
    cases: dict = field(default_factory=dict)          # name -> case id
    offices: dict = field(default_factory=dict)        # name -> office of the case
    consents: dict = field(default_factory=dict)       # case name -> a spare sharing consent id
    referrals: dict = field(default_factory=dict)      # name -> referral id
    referral_orgs: dict = field(default_factory=dict)  # name -> receiving organisation
    referral_offices: dict = field(default_factory=dict)
    transfers: dict = field(default_factory=dict)
    inbox: dict = field(default_factory=dict)          # name -> notification id
    inbox_owner: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)      # name -> webhook endpoint id
    endpoint_orgs: dict = field(default_factory=dict)
    deliveries: dict = field(default_factory=dict)
    entitled_bodies: list = field(default_factory=list)  # bodies allowed to carry planted values
    error_bodies: list = field(default_factory=list)     # bodies that must not

    def id(self, kind: str, name: str) -> str:
        table = {"case": self.cases, "consent": self.consents, "referral": self.referrals,
                 "transfer": self.transfers, "inbox": self.inbox, "endpoint": self.endpoints,
                 "delivery": self.deliveries}[kind]
        return table[name]


def service_ids() -> dict:
    from referral.service_layer.seed import _id

    return {"alas-psychosocial": _id("service", ALAS, "psychosocial"),
            "alas-legal": _id("service", ALAS, "legal"),
            "msp-tulcan-health": _id("service", MSP_TULCAN, "cmr"),
            "quimera-psychosocial": _id("service", QUIMERA, "psychosocial"),
            "shelter-tulcan": _id("service", "/civil-society/casa-de-acogida-tulcan", "shelter")}


def _ok(r, *codes):
    assert r.status_code in codes, f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text[:500]}"
    return r


def _referral_projected(p: Platform, case_id: str, organisation: str) -> bool:
    from referral.adapters.orm import cases, consents
    from sqlalchemy import select

    with p["referral"].runtime.engine.connect() as conn:
        case = conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
        if case is None or not case.registered:
            return False
        grants = conn.execute(select(consents).where(consents.c.case_id == case_id)).all()
    return any(getattr(g, "recipient_organisation", None) == organisation and g.granted for g in grants)


def _intake_referral_status(p: Platform, referral_id: str) -> str | None:
    from intake.adapters.orm import referral_access
    from sqlalchemy import select

    with p["intake"].runtime.engine.connect() as conn:
        row = conn.execute(select(referral_access).where(referral_access.c.referral_id == referral_id)).first()
    return row.status if row else None


def _notifications(p: Platform, **where) -> list:
    from notify.adapters.orm import notifications
    from sqlalchemy import select

    q = select(notifications)
    for column, value in where.items():
        q = q.where(getattr(notifications.c, column) == value)
    with p["notify"].runtime.engine.connect() as conn:
        return conn.execute(q).all()


def _deliveries(p: Platform, endpoint_id: str) -> list:
    from notify.adapters.orm import deliveries
    from sqlalchemy import select

    with p["notify"].runtime.engine.connect() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.endpoint_id == endpoint_id)).all()


def register(w: World, name: str, user: str, office: str, sharing_scopes: list) -> str:
    r = _ok(w.p.call("intake", "POST", "/v1/cases", user=user,
                     json=registration_body(w.markers, name, sharing=sharing_scopes)), 201)
    w.cases[name], w.offices[name] = r.json()["id"], office
    return r.json()["id"]


def refer(w: World, name: str, case: str, service: str, categories: list, user: str = "caseworker.tulcan",
          priority: str = "urgent") -> str:
    r = _ok(w.p.call("referral", "POST", "/v1/referrals", user=user, json={
        "case_id": w.cases[case], "service_id": service_ids()[service], "priority": priority,
        "categories": categories, "reason": "Motivo " + w.markers.text(f"{name}Reason")}), 201)
    w.referrals[name] = r.json()["id"]
    w.referral_orgs[name] = r.json().get("receiving_organisation")
    w.referral_offices[name] = w.offices[case]
    return r.json()["id"]


def answer(w: World, name: str, action: str, user: str, body: dict | None = None) -> dict:
    rid = w.referrals[name]
    read = _ok(w.p.call("referral", "GET", f"/v1/referrals/{rid}", user=user), 200)
    r = _ok(w.p.call("referral", "POST", f"/v1/referrals/{rid}/{action}", user=user, json=body,
                     headers={"If-Match": read.headers["etag"]}), 200)
    return r.json()


@pytest.fixture(scope="session")
def world(platform, receiver) -> World:
    p = platform
    w = World(p, Markers())
    m = w.markers

    # -- the MSP hospital's institutional system subscribes a webhook before anything is referred
    r = _ok(p.call("notify", "POST", "/v1/webhooks/endpoints", user="msp-hospital-tulcan-system",
                   json={"url": receiver.url("/msp"), "event_types": ["referral.created", "referral.accepted",
                                                                       "referral.revoked", "consent.withdrawn"]}), 201)
    w.endpoints["msp"], w.endpoint_orgs["msp"] = r.json()["id"], MSP_TULCAN

    # -- cases in three offices, every personal-data field planted
    all_categories = ["identity", "contact_details", "incident_summary", "psychosocial_needs"]
    register(w, "tulcan", "caseworker.tulcan", TULCAN, [sharing(ALAS, *all_categories), sharing(HIAS, "legal_needs"),
                                                        sharing(MSP_TULCAN, "health_needs")])
    register(w, "tulcan2", "caseworker.tulcan", TULCAN, [sharing(ALAS, *all_categories, "legal_needs"),
                                                         sharing(MSP_TULCAN, "health_needs", "identity")])
    register(w, "quito", "caseworker.quito", QUITO, [sharing(ALAS, "psychosocial_needs")])
    register(w, "alas", "caseworker.alas", ALAS, [])

    # -- notes and spare consents (for the withdraw endpoint), by each owning office
    for name, user in (("tulcan", "caseworker.tulcan"), ("tulcan2", "caseworker.tulcan"),
                       ("quito", "caseworker.quito"), ("alas", "caseworker.alas")):
        cid = w.cases[name]
        _ok(p.call("intake", "POST", f"/v1/cases/{cid}/notes", user=user, json={
            "note_type": "follow_up", "text": f"Nota {m.text(name + 'Note')} {m.email(name + 'NoteEmail')}"}), 201)
        r = _ok(p.call("intake", "POST", f"/v1/cases/{cid}/consents", user=user, json={
            "purpose": "sharing", "given_by": "survivor", "given_at": now_iso(-30),
            "recipient_organisation": FISCALIA, "categories": ["legal_needs"]}), 201)
        w.consents[name] = r.json()["id"]

    # -- a pending transfer Tulcán -> Quito (ownership moves only on acceptance)
    r = _ok(p.call("intake", "POST", f"/v1/cases/{w.cases['tulcan2']}/transfers", user="caseworker.tulcan", json={
        "to_office": QUITO, "reason_code": "survivor_relocating",
        "consent": {"given_by": "survivor", "given_at": now_iso(-10)}}), 201)
    w.transfers["tulcan2"] = r.json()["id"]

    # -- the referral service learns the cases and consents from intake's events
    for name, org in (("tulcan", ALAS), ("tulcan2", MSP_TULCAN), ("quito", ALAS)):
        wait_for(lambda name=name, org=org: _referral_projected(p, w.cases[name], org), 60,
                 message=f"case {name} projected in referral")

    # R1: Tulcán -> Alas psychosocial, accepted by provider.alas
    refer(w, "R1", "tulcan", "alas-psychosocial", all_categories)
    answer(w, "R1", "accept", "provider.alas")
    # R2: Tulcán -> MSP hospital, pending (the hospital's webhook hears of it)
    refer(w, "R2", "tulcan2", "msp-tulcan-health", ["health_needs", "identity"], priority="emergency")
    # R3: accepted and completed with a counter-referral note; R4 declined with a note
    refer(w, "R3", "tulcan2", "alas-psychosocial", ["psychosocial_needs", "incident_summary"])
    answer(w, "R3", "accept", "provider.alas")
    answer(w, "R3", "complete", "provider.alas", {
        "service_delivered": True, "outcome_code": "needs_met", "follow_up_advised": True,
        "follow_up_service_types": ["legal_aid"], "note": "Contrarreferencia " + m.text("R3CounterNote")})
    refer(w, "R4", "tulcan2", "alas-legal", ["legal_needs"])
    answer(w, "R4", "decline", "provider.alas", {"reason_code": "no_capacity",
                                                 "note": "Sin cupo " + m.text("R4DeclineNote")})

    # -- intake learns the referrals' states; Alas reads what the survivor consented to share
    wait_for(lambda: _intake_referral_status(p, w.referrals["R1"]) == "accepted", 60, message="R1 accepted in intake")
    r = _ok(p.call_patiently("intake", "GET", f"/v1/referrals/{w.referrals['R1']}/shared-data", user="provider.alas"),
            200)
    w.entitled_bodies.append(r.text)

    # -- notify: the referring caseworker's inbox entry, the receiving organisation's entry, the webhook delivery
    tulcan_sub = p.sub("caseworker.tulcan")
    found = wait_for(lambda: [n for n in _notifications(p, referral_id=w.referrals["R1"]) if n.subject == tulcan_sub],
                     60, message="R1 accepted notice for caseworker.tulcan")
    w.inbox["tulcan-R1"], w.inbox_owner["tulcan-R1"] = found[0].id, "caseworker.tulcan"
    found = wait_for(lambda: [n for n in _notifications(p, referral_id=w.referrals["R1"])
                              if n.subject is None and n.organisation == ALAS], 60, message="R1 notice for Alas")
    w.inbox["alas-R1"], w.inbox_owner["alas-R1"] = found[0].id, "provider.alas"
    found = wait_for(lambda: [d for d in _deliveries(p, w.endpoints["msp"]) if d.status == "delivered"], 60,
                     message="R2 webhook delivered to the hospital")
    w.deliveries["msp"] = found[0].id
    wait_for(lambda: receiver.at("/msp"), 30, message="webhook received")
    return w


def wait_for_audit_checkpoint(p: Platform) -> None:
    wait_for(lambda: p.call("audit", "GET", "/checkpoints/latest", user="auditor.oversight").status_code == 200, 60,
             message="a signed checkpoint")


__all__ = ["ALAS", "FISCALIA", "HIAS", "LAGO_AGRIO", "MSP_TULCAN", "QUIMERA", "QUITO", "SERVICES", "TULCAN",
           "Markers", "Platform", "World", "find_markers", "incident_body", "now_iso", "registration_body",
           "security_matrix", "service_ids", "sharing", "wait_for", "wait_for_audit_checkpoint"]
