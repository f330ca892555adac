"""A steady stream of real work, and the ledger of every write the platform acknowledged.

Each driver thread runs *journeys* as the people in the realm would, over HTTP to 127.0.0.1 only:

    caseworker.tulcan registers a survivor in intake (consent to share with the receiving organisation)
    -> once referral has projected the case and the consent, refers it: 3 of 4 journeys to Alas de
       Colibrí's psychosocial service (found through the directory search), 1 of 4 to the MSP hospital
       in Tulcán (whose institutional system has a webhook endpoint registered in notify)
    -> the receiving organisation's provider accepts (If-Match), then completes with a counter-referral.

A write is *acknowledged* when its API answered 2xx; only then it enters the ledger. Creations carry an
Idempotency-Key and are retried with the same key when the answer is lost (timeout, connection refused,
5xx), so a retry cannot make a second case or referral. Transitions are retried with the same If-Match;
a 409/412 after a lost answer is resolved by reading the referral. A request that never got an answer
within its deadline is counted as *unknown outcome* (never as acknowledged)."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from careroute_devstack.stack import DEV_PASSWORD

CASEWORKER = "caseworker.tulcan"
ALAS = "/civil-society/alas-de-colibri"
MSP = "/government/msp/hospital-tulcan"
MSP_SYSTEM = "msp-hospital-tulcan-system"
PROVIDER = {"alas": "provider.alas", "msp": "provider.msp-tulcan"}
RECEIVER = {"alas": ALAS, "msp": MSP}
RANK = {"pending": 0, "accepted": 1, "completed": 2}
CALL_DEADLINE = 75.0          # seconds one request is retried before its outcome counts as unknown
CLIENT_TIMEOUT = 10.0         # per attempt; the broker pause (20 s) is longer than this


class LoginUnavailable(Exception):
    pass


class Tokens:
    """Access tokens per user (password grant, careroute-cli) or per institutional client (client
    credentials). Refreshed when less than a minute is left; while the identity provider is away a
    still-valid cached token keeps being used and the refused login is counted."""

    def __init__(self, issuer: str, ledger: Ledger) -> None:
        self.url = f"{issuer}/protocol/openid-connect/token"
        self.ledger = ledger
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _fetch(self, who: str) -> tuple[str, float]:
        if who.startswith("client:"):
            client = who.split(":", 1)[1]
            data = {"grant_type": "client_credentials", "client_id": client, "client_secret": f"dev-{client}-secret"}
        else:
            data = {"grant_type": "password", "client_id": "careroute-cli", "username": who,
                    "password": DEV_PASSWORD, "scope": "openid"}
        r = httpx.post(self.url, data=data, timeout=5)
        r.raise_for_status()
        body = r.json()
        return body["access_token"], time.time() + body.get("expires_in", 300)

    def get(self, who: str, *, fresh: bool = False) -> str:
        with self._lock:
            cached = self._cache.get(who)
            if cached and not fresh and cached[1] > time.time() + 60:
                return cached[0]
            try:
                self._cache[who] = self._fetch(who)
                self.ledger.count("login.ok")
                return self._cache[who][0]
            except httpx.TransportError:
                self.ledger.count("login.refused")          # connection refused: the IdP is away
            except httpx.HTTPStatusError as exc:
                self.ledger.count(f"login.http_{exc.response.status_code}")
            if cached and cached[1] > time.time() + 5:
                return cached[0]
            raise LoginUnavailable(who)

    def refresh_all(self) -> None:
        for who in list(self._cache):
            self.get(who, fresh=True)

    def min_lifetime(self) -> float:
        with self._lock:
            return min((exp - time.time() for _, exp in self._cache.values()), default=0)


@dataclass
class Ledger:
    """What the platform acknowledged, and every answer it gave."""

    cases: dict[str, str] = field(default_factory=dict)          # case id -> journey kind
    referrals: dict[str, dict] = field(default_factory=dict)     # referral id -> case, kind, status
    counters: Counter = field(default_factory=Counter)
    server_errors: list[tuple[float, str, str, int]] = field(default_factory=list)  # (t, service, route, status)
    unknown: Counter = field(default_factory=Counter)            # requests given up on, per operation
    # seconds from intake's 201 until referral had projected the case and consent (relay + broker +
    # consumer): the platform's event latency as a caseworker feels it
    projection_waits: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counters[what] += n

    def ack_case(self, case_id: str, kind: str) -> None:
        with self._lock:
            self.cases[case_id] = kind
            self.counters["ack.case.registered"] += 1

    def ack_referral(self, referral_id: str, case_id: str, kind: str, status: str) -> None:
        with self._lock:
            entry = self.referrals.setdefault(referral_id, {"case_id": case_id, "kind": kind, "status": status})
            if RANK[status] >= RANK[entry["status"]]:
                entry["status"] = status
            self.counters[f"ack.referral.{status if status != 'pending' else 'created'}"] += 1

    def server_error(self, service: str, route: str, status: int) -> None:
        with self._lock:
            self.server_errors.append((time.monotonic(), service, route, status))

    def projection_wait(self, seconds: float) -> None:
        with self._lock:
            self.projection_waits.append((time.monotonic(), seconds))

    def median_projection_wait(self, start: float, end: float) -> float | None:
        waits = sorted(w for t, w in list(self.projection_waits) if start <= t <= end)
        return round(waits[len(waits) // 2], 2) if waits else None

    def give_up(self, op: str) -> None:
        with self._lock:
            self.unknown[op] += 1

    def acknowledged(self) -> int:
        return sum(v for k, v in self.counters.items() if k.startswith("ack."))

    def snapshot(self) -> dict:
        with self._lock:
            return {"acknowledged": {k[4:]: v for k, v in sorted(self.counters.items()) if k.startswith("ack.")},
                    "unknown_outcome": dict(self.unknown),
                    "server_errors": len(self.server_errors),
                    "counters": dict(sorted(self.counters.items()))}


def registration(kind: str) -> dict:
    """A survivor registration with consent to share with the receiving organisation. Names and
    documents are unique planted values (they go to the vault, never to events)."""
    tag = uuid.uuid4().hex[:10]
    categories = ["identity", "psychosocial_needs"] if kind == "alas" else ["identity", "health_needs"]
    return {
        "consent": {"given_by": "survivor", "given_at": (datetime.now(UTC) - timedelta(seconds=60)).isoformat(),
                    "registration": True, "reporting": True,
                    "sharing": [{"recipient_organisation": RECEIVER[kind], "categories": categories}]},
        "survivor": {"given_names": f"Zq{tag}", "family_names": "Chaos", "date_of_birth": "1994-03-02",
                     "phone": "+593 99 123 4567", "address": "Calle Bolívar 12, Tulcán",
                     "document_type": "cedula_venezuela", "document_number": "V" + tag[:9]},
        "profile": {"sex": "female", "nationality": "VE", "mobility_status": "irregular_migrant", "languages": ["es"],
                    "province": "04", "canton": "0401"},
        "needs": ["psychosocial"] if kind == "alas" else ["health_cmr"],
        "risk": {"level": "medium"},
    }


class Api:
    """One driver thread's HTTP client: retries lost answers, records every status."""

    def __init__(self, platform, tokens: Tokens, ledger: Ledger, halt: threading.Event) -> None:
        self.platform = platform
        self.tokens = tokens
        self.ledger = ledger
        self.halt = halt                      # hard stop: give up at once (teardown)
        self.client = httpx.Client(timeout=CLIENT_TIMEOUT, trust_env=False)

    def call(self, service: str, method: str, path: str, *, who: str, op: str, json_body=None,
             headers: dict | None = None, retry_statuses: tuple[int, ...] = (),
             deadline: float = CALL_DEADLINE) -> httpx.Response | None:
        url = self.platform.cfg.service_url(service) + path
        until = time.monotonic() + deadline
        pause = 0.2
        while not self.halt.is_set():
            try:
                token = self.tokens.get(who)
                r = self.client.request(method, url, json=json_body,
                                        headers={**(headers or {}), "Authorization": f"Bearer {token}"})
                self.ledger.count(f"http.{service}.{r.status_code}")
                if r.status_code >= 500:
                    self.ledger.server_error(service, f"{method} {op}", r.status_code)
                elif r.status_code not in retry_statuses and r.status_code != 401 and r.status_code != 429:
                    return r
            except LoginUnavailable:
                self.ledger.count("http.not_sent_no_token")
            except httpx.TimeoutException:
                self.ledger.count(f"http.{service}.timeout")
            except httpx.TransportError:
                self.ledger.count(f"http.{service}.connection_error")
            if time.monotonic() + pause > until:
                break
            self.ledger.count("http.retries")
            self.halt.wait(pause)
            pause = min(pause * 2, 3.0)
        self.ledger.give_up(op)
        return None

    def close(self) -> None:
        self.client.close()


class Stream:
    """`threads` drivers running journeys until `stop()` (then no new step starts) or until
    `max_journeys` journeys started."""

    def __init__(self, platform, tokens: Tokens, ledger: Ledger, services: dict[str, str], *, threads: int = 4,
                 max_journeys: int = 2000, seed: int = 7) -> None:
        self.platform = platform
        self.tokens = tokens
        self.ledger = ledger
        self.services = services             # kind -> directory service id
        self.threads_n = threads
        self.max_journeys = max_journeys
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.halt = threading.Event()
        self.started = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> Stream:
        self.stopping.clear()
        self._threads = [threading.Thread(target=self._drive, name=f"driver-{i}", daemon=True)
                         for i in range(self.threads_n)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 150) -> None:
        """No new step starts; steps in flight finish (with their retries)."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self.halt.set()
            for t in self._threads:
                t.join(15)
            self.halt.clear()

    def _next_kind(self) -> str | None:
        with self._lock:
            if self.started >= self.max_journeys:
                return None
            self.started += 1
            return "msp" if self.started % 4 == 0 else "alas"

    def _drive(self) -> None:
        api = Api(self.platform, self.tokens, self.ledger, self.halt)
        try:
            while not self.stopping.is_set():
                kind = self._next_kind()
                if kind is None:
                    return
                try:
                    self.journey(api, kind)
                except Exception as exc:  # noqa: BLE001 - a driver bug must show, not kill the stream
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.ledger.count("driver.errors")
                    time.sleep(0.5)
        finally:
            api.close()

    # ------------------------------------------------------------------------------ one journey
    def journey(self, api: Api, kind: str) -> None:
        led = self.ledger
        r = api.call("intake", "POST", "/v1/cases", who=CASEWORKER, op="case.register", json_body=registration(kind),
                     headers={"Idempotency-Key": str(uuid.uuid4())})
        if r is None:
            return
        if r.status_code not in (200, 201):
            led.count(f"refused.case.register.{r.status_code}")
            return
        case_id = r.json()["id"]
        led.ack_case(case_id, kind)
        if self.stopping.is_set() or not self._projected(case_id, kind):
            return

        body = {"case_id": case_id, "service_id": self.services[kind], "priority": "urgent",
                "categories": ["psychosocial_needs"] if kind == "alas" else ["health_needs"],
                "services_requested": ["psychosocial"] if kind == "alas" else ["health_cmr"]}
        r = api.call("referral", "POST", "/v1/referrals", who=CASEWORKER, op="referral.create", json_body=body,
                     headers={"Idempotency-Key": str(uuid.uuid4())}, retry_statuses=(404, 409))
        if r is None:
            return
        if r.status_code not in (200, 201):
            led.count(f"refused.referral.create.{r.status_code}")
            return
        referral_id = r.json()["id"]
        led.ack_referral(referral_id, case_id, kind, "pending")

        etag = 'W/"1"'
        for action, status, payload in (("accept", "accepted", {}),
                                        ("complete", "completed", {"service_delivered": True,
                                                                   "outcome_code": "needs_met"})):
            if self.stopping.is_set():
                return
            r = api.call("referral", "POST", f"/v1/referrals/{referral_id}/{action}", who=PROVIDER[kind],
                         op=f"referral.{action}", json_body=payload, headers={"If-Match": etag})
            if r is None:
                return
            if r.status_code == 200:
                led.ack_referral(referral_id, case_id, kind, status)
                etag = r.headers.get("etag", etag)
                continue
            if r.status_code in (409, 412):    # an earlier attempt committed but its answer was lost?
                seen = api.call("referral", "GET", f"/v1/referrals/{referral_id}", who=PROVIDER[kind],
                                op="referral.read")
                if seen is not None and seen.status_code == 200 and seen.json().get("status") == status:
                    led.count(f"confirmed.referral.{action}.after_lost_answer")
                    led.ack_referral(referral_id, case_id, kind, status)
                    etag = seen.headers.get("etag", etag)
                    continue
            led.count(f"refused.referral.{action}.{r.status_code}")
            return

    def _projected(self, case_id: str, kind: str, timeout: float = 120) -> bool:
        """The caseworker refers once the referral service knows the case and the consent (its
        projections, fed by intake's events)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                row = self.platform.query(
                    "referral",
                    "select c.registered, exists(select 1 from consent_projection s where s.case_id = c.case_id and s.granted "
                    "and s.recipient_organisation = :org) from case_projection c where c.case_id = :case_id",
                    case_id=case_id, org=RECEIVER[kind])
                if row and row[0][0] and row[0][1]:
                    self.ledger.projection_wait(time.monotonic() - started)
                    return True
            except Exception as exc:  # noqa: BLE001 - the database may be restarting
                self.ledger.count(f"journey.projection_query_error.{type(exc).__name__}")
            time.sleep(0.1)
        self.ledger.count("journey.projection_wait_abandoned")
        return False


class WebhookReceiver:
    """An institutional system's webhook endpoint on loopback. While `failing` it answers 500; it
    records every attempt (Standard Webhooks id, answer, whether the signature verified)."""

    def __init__(self) -> None:
        self.failing = False
        self.secret: str | None = None
        self.attempts: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                msg_id = self.headers.get("webhook-id", "")
                status = 500 if receiver.failing else 200
                valid = None
                if receiver.secret:
                    from notify.domain.signing import verify

                    try:
                        valid = verify(receiver.secret, msg_id, int(self.headers.get("webhook-timestamp", "0")),
                                       body, self.headers.get("webhook-signature", ""))
                    except ValueError:
                        valid = False
                try:
                    kind = json.loads(body).get("type")
                except ValueError:
                    kind = None
                with receiver._lock:
                    receiver.attempts.append({"id": msg_id, "status": status, "valid": valid, "type": kind,
                                              "at": time.monotonic()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="webhook-receiver").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/careroute/webhooks"

    def delivered(self) -> Counter:
        """2xx answers per webhook id (= event id)."""
        with self._lock:
            return Counter(a["id"] for a in self.attempts if a["status"] < 300)

    def summary(self) -> dict:
        with self._lock:
            answered = Counter(a["status"] for a in self.attempts)
            bad = sum(1 for a in self.attempts if a["valid"] is False)
        return {"attempts": sum(answered.values()), "answered_500": answered.get(500, 0),
                "answered_200": answered.get(200, 0), "bad_signatures": bad}

    def close(self) -> None:
        self.server.shutdown()


def find_services(api: Api) -> dict[str, str]:
    """The services journeys refer to, found the way a caseworker finds them: the directory search."""
    found = {}
    for kind, service_type, org in (("alas", "psychosocial", ALAS), ("msp", "health_cmr", MSP)):
        r = api.call("referral", "GET", f"/v1/directory/services?service_type={service_type}&limit=100",
                     who=CASEWORKER, op="directory.search")
        assert r is not None and r.status_code == 200, r.text if r is not None else "no answer"
        matches = [s for s in r.json()["items"] if s["organisation"]["group_path"] == org and s["accepts_referrals"]]
        assert matches, f"no referable {service_type} service of {org} in the directory"
        found[kind] = matches[0]["id"]
    return found


def register_webhook(platform, tokens: Tokens, receiver: WebhookReceiver) -> str:
    """The MSP hospital's system registers its endpoint with its own client-credentials token."""
    from notify.domain.kinds import WEBHOOK_EVENT_TYPES

    token = tokens.get(f"client:{MSP_SYSTEM}")
    r = httpx.post(platform.cfg.service_url("notify") + "/v1/webhooks/endpoints",
                   json={"url": receiver.url, "event_types": [t for t in WEBHOOK_EVENT_TYPES
                                                              if t.startswith("referral.")]},
                   headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}, timeout=15)
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return r.json()["id"]


def server_errors_between(ledger: Ledger, start: float, end: float) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for t, service, route, status in list(ledger.server_errors):
        if start <= t <= end:
            out[f"{service} {route} {status}"] += 1
    return dict(out)
