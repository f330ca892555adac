"""Fault injection against the whole platform under a steady stream of real work.

One test per fault, in this order, on one platform (module-scoped): each starts a fresh stream of
journeys, injects its fault mid-stream, heals it, lets the stream run on, stops it, waits until the
platform is quiet (outboxes drained, consumer lag zero, deliveries done, checkpoint signed), checks
that every process is still alive and live, verifies an auditor's export of the whole log offline, and
checks every invariant of chaos_invariants.py over everything acknowledged since the start of the run.

A scenario that leaves a process dead (or a thread of it: /livez 503) fails; the suite then restarts
that process, as a liveness probe would, so the next scenario starts from a healthy platform and its
figures are its own. Figures go to artifacts/chaos/report.json."""
from __future__ import annotations

import json
import signal
import time

import httpx
import pytest
from chaos_invariants import check_all, republished, verify_audit_export, wait_quiescent
from chaos_workload import server_errors_between

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(540)]

WARMUP = 8        # seconds of stream before the fault
AFTERMATH = 6     # seconds of stream after the fault healed
QUIET_TIMEOUT = 90


def repair(chaos) -> dict:
    """Restart what a fault left dead, as a supervisor with a liveness probe would."""
    unhealthy = {n: s for n, s in chaos.platform.liveness().items() if s != "ok"}
    for name in unhealthy:
        chaos.platform.restart(name)
    return unhealthy


def run_scenario(chaos, name: str, description: str, inject, *, expect_no_5xx: bool = False,
                 threads: int = 4, broker_scan: bool = False) -> dict:
    """Stream, fault, stream, quiesce, check. `inject(chaos)` returns (faults injected, details,
    (window start, window end)) and must have healed the fault when it returns."""
    ledger = chaos.ledger
    record = {"name": name, "fault": description, "result": "error"}
    chaos.record(record)
    leftover = repair(chaos)
    if leftover:
        record["restarted_before_start"] = leftover
        wait_quiescent(chaos.platform, timeout=60)
    acked_before = ledger.acknowledged()
    unknown_before = sum(ledger.unknown.values())
    broker_before = republished(chaos.platform) if broker_scan else None
    t_start = time.monotonic()
    stream = chaos.stream(threads=threads).start()
    try:
        time.sleep(WARMUP)
        faults, details, window = inject(chaos)
        record["faults_injected"] = faults
        record["details"] = details
        time.sleep(AFTERMATH)
    finally:
        stream.stop()
    t_stop = time.monotonic()
    record["journeys_started"] = stream.started
    record["driver_errors"] = stream.errors[:5]
    record["writes_acknowledged"] = ledger.acknowledged() - acked_before
    record["unknown_outcome"] = sum(ledger.unknown.values()) - unknown_before
    during = server_errors_between(ledger, *window)
    record["server_errors"] = sum(during.values())
    record["server_errors_during_fault"] = during
    record["event_latency_median_s"] = {"before_fault": ledger.median_projection_wait(t_start, window[0]),
                                        "after_fault": ledger.median_projection_wait(window[1], t_stop)}

    quiet, seconds, state = wait_quiescent(chaos.platform, timeout=QUIET_TIMEOUT, give_up_if_dead=True)
    record["quiescence_seconds"] = round(seconds, 1)
    if not quiet:
        record["not_quiet"] = state
    liveness = chaos.platform.liveness()
    dead = {n: s for n, s in liveness.items() if s != "ok"}
    record["dead_processes"] = dead
    problems = []
    if dead:
        # What was lost while it was dead, then restart it and see whether it catches up.
        before = check_all(chaos.platform, ledger, chaos.receiver, chaos.endpoint_id).summary(chaos.seen)
        record["before_restart"] = {"missing": before["new_lost"],
                                    "by_check": {k: v["count"] for k, v in before["new_by_check"].items()}}
        problems.append(f"process(es) dead or not live after {name}: {dead} "
                        f"({before['new_lost']} effects missing until they were restarted)")
        repair(chaos)
        quiet, seconds2, state = wait_quiescent(chaos.platform, timeout=QUIET_TIMEOUT, give_up_if_dead=True)
        record["quiescence_after_restart_seconds"] = round(seconds2, 1)
        again = {n: s for n, s in chaos.platform.liveness().items() if s != "ok"}
        if again:
            record["dead_again_after_restart"] = again
            problems.append(f"dead again after a restart: {again}")
    record["audit_export"] = verify_audit_export(chaos.platform, chaos.tokens)
    wait_quiescent(chaos.platform, timeout=30)   # the export's own access events reach the log
    findings = check_all(chaos.platform, ledger, chaos.receiver, chaos.endpoint_id)
    summary = findings.summary(chaos.seen)
    chaos.seen |= findings.keys()
    # This scenario's own violations; those an earlier scenario left behind are carried over.
    record.update(lost=summary["new_lost"], duplicated=summary["new_duplicated"],
                  other_violations=summary["other_violations"] + len(dead),
                  carried_over={"lost": summary["lost"] - summary["new_lost"],
                                "duplicated": summary["duplicated"] - summary["new_duplicated"]},
                  findings=summary)
    if broker_scan:
        after = republished(chaos.platform)
        record["republished_records"] = after["republished_records"] - broker_before["republished_records"]
    if not quiet:
        problems.append(f"platform not quiet after {seconds:.0f}s: {state}")
    if not record["audit_export"]["ok"]:
        problems.append(f"audit export does not verify: {record['audit_export']['problems']}")
    if summary["new_by_check"] or findings.other:
        problems.append(json.dumps({"new": summary["new_by_check"], "other": {
            check: summary["examples"][check] for check in findings.other}}, indent=1))
    if expect_no_5xx and during:
        problems.append(f"5xx answers while {name}: {during}")
    record["result"] = "fail" if problems else "pass"
    print(f"\n[{name}] {record['result']}: {record['writes_acknowledged']} writes acknowledged, "
          f"{faults} fault(s), lost {record['lost']}, duplicated {record['duplicated']}, dead {dead or 'none'}, "
          f"quiet after {seconds:.1f}s; {json.dumps(details, default=str)}")
    assert not problems, "\n".join(problems)
    return record


def _wait_metric_increase(platform, name: str, metric: str, before: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = platform.metric(name, metric)
        if now is not None and now > before:
            return now
        time.sleep(0.005)
    return None


def _freeze(platform, names: list[str], seconds: float) -> None:
    """SIGSTOP then SIGCONT: a backlog builds up behind the frozen processes (shorter than the
    consumer session timeout, so the group does not notice)."""
    for name in names:
        platform.procs[name].signal(signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        for name in names:
            platform.procs[name].signal(signal.SIGCONT)


# ------------------------------------------------------------------------------------------ 1
WORKERS = [f"{s}-worker" for s in ("intake", "referral", "notify", "audit")]


def _busy(platform, seconds: float = 3) -> dict:
    """Make every consumer busy with a backlog: freeze the workers so events pile up, thaw them and
    wait until each has started applying (events_consumed_total moved). A fault that follows hits
    consumers with records in hand, as it would on a loaded system."""
    before = {n: platform.metric(n, "events_consumed_total") or 0.0 for n in WORKERS}
    _freeze(platform, WORKERS, seconds)
    return {n: _wait_metric_increase(platform, n, "events_consumed_total", before[n], 10) is not None
            for n in WORKERS}


def test_broker_paused_longer_than_client_timeouts(chaos):
    """The broker is SIGSTOPped for 20 s while the consumers are busy with a backlog (the producers'
    request timeout is 15 s, the consumers' session timeout 6 s and max poll interval 10 s, the
    driver's HTTP timeout 10 s), then SIGCONT. The APIs keep acknowledging writes (they only touch
    their database); relays keep the rows; consumers must resume on their own."""
    hold = 20.0

    def inject(c):
        acked = c.ledger.acknowledged()
        busy = _busy(c.platform)
        start = time.monotonic()
        c.platform.pause_broker()
        try:
            time.sleep(hold)
        finally:
            c.platform.resume_broker()
        end = time.monotonic()
        return 1, {"paused_seconds": round(end - start, 1), "consumers_busy_when_paused": busy,
                   "writes_acknowledged_while_paused": c.ledger.acknowledged() - acked}, (start, end)

    run_scenario(chaos, "broker-paused", "Tansu SIGSTOP 20 s with consumers busy, then SIGCONT", inject)


# ------------------------------------------------------------------------------------------ 2
def test_consumers_sigkilled_mid_batch_and_restarted(chaos):
    """Each service's worker process is frozen for 3 s so a backlog builds, thawed, and SIGKILLed as
    soon as it has applied part of the backlog (its events_consumed_total moved), then restarted."""

    def inject(c):
        p = c.platform
        details = {}
        start = time.monotonic()
        for service in ("audit", "notify", "referral", "intake"):
            name = f"{service}-worker"
            before = p.metric(name, "events_consumed_total") or 0.0
            _freeze(p, [name], 3)
            moved = _wait_metric_increase(p, name, "events_consumed_total", before, 15)
            p.procs[name].kill()
            killed_at = time.monotonic()
            p.start_again(name)
            details[name] = {"applied_before_kill": (moved or before) - before, "mid_batch": moved is not None,
                             "back_after_seconds": round(time.monotonic() - killed_at, 1)}
        return 4, details, (start, time.monotonic())

    run_scenario(chaos, "consumer-sigkill", "SIGKILL each worker (consumer) mid-batch, restart", inject)


def test_relays_sigkilled_between_publish_and_mark(chaos):
    """Each domain relay (intake, referral) is pinned between publish and mark, then SIGKILLed: its
    outbox fills while it is frozen for 3 s; the suite takes a SHARE lock on the outbox (the relay's
    SELECT ... FOR UPDATE still works, its UPDATE of published_at waits) and thaws it; as soon as the
    broker has acked the batch (outbox_published_total moved) the relay is killed and the lock
    released. The restarted relay publishes those rows again; consumers absorb the copies."""
    from sqlalchemy import text

    def pin_and_kill(p, service: str) -> dict:
        name = f"{service}-relay"
        engine = p.admin_engine(service)
        for attempt in range(5):
            before = p.metric(name, "outbox_published_total") or 0.0
            p.procs[name].signal(signal.SIGSTOP)
            time.sleep(3)
            conn = engine.connect()
            tx = conn.begin()
            try:
                conn.execute(text("set local lock_timeout = '1s'"))
                conn.execute(text("lock table outbox in share mode"))
            except Exception:  # noqa: BLE001 - frozen inside its own transaction: thaw, try again
                tx.rollback()
                conn.close()
                p.procs[name].signal(signal.SIGCONT)
                time.sleep(1)
                continue
            try:
                backlog = conn.execute(text("select count(*) from outbox where published_at is null")).scalar()
                p.procs[name].signal(signal.SIGCONT)
                moved = _wait_metric_increase(p, name, "outbox_published_total", before, 10)
                p.procs[name].kill()
            finally:
                tx.rollback()
                conn.close()
            unmarked = p.scalar(service, "select count(*) from outbox where published_at is null")
            p.start_again(name)
            return {"attempts": attempt + 1, "backlog_when_thawed": backlog,
                    "acked_by_broker_before_kill": (moved or before) - before, "unmarked_after_kill": unmarked}
        p.procs[name].signal(signal.SIGCONT)
        return {"attempts": 5, "pinned": False}

    def inject(c):
        start = time.monotonic()
        details = {f"{s}-relay": pin_and_kill(c.platform, s) for s in ("intake", "referral")}
        return 2, details, (start, time.monotonic())

    record = run_scenario(chaos, "relay-sigkill", "SIGKILL intake and referral relays after the broker's ack, "
                                                  "before marking", inject, broker_scan=True)
    print(f"[relay-sigkill] records on the broker twice (republished by the restarted relays): "
          f"{record['republished_records']}")
    assert record["republished_records"] > 0, "the relays were not killed between publish and mark"


# ------------------------------------------------------------------------------------------ 3
def test_postgres_restarted(chaos):
    """PostgreSQL (every service's database) restarts while the consumers are busy with a backlog,
    with a fast shutdown, stays down 5 s and starts again on the same data directory and port.
    Requests during the outage may fail (5xx, not acknowledged); nothing may be lost, nothing
    dead-lettered, and every process must reconnect on its own (LISTEN sessions are counted before
    and after: a process that does not listen again falls back to polling)."""
    listening = ("select coalesce(substring(query from 'LISTEN (\\w+)'), '?') channel, count(*) n "
                 "from pg_stat_activity where query ilike 'listen %' group by 1 order by 1")

    def inject(c):
        p = c.platform
        before = {r.channel: r.n for r in p.query("intake", listening)}
        busy = _busy(p)
        start = time.monotonic()
        stop_s = p.stop_postgres()
        time.sleep(5)
        start_s = p.start_postgres()
        end = time.monotonic()
        time.sleep(5)
        after = {r.channel: r.n for r in p.query("intake", listening)}
        return 1, {"consumers_busy_when_stopped": busy, "shutdown_seconds": round(stop_s, 1),
                   "down_seconds": round(end - start - start_s, 1), "startup_seconds": round(start_s, 1),
                   "listen_sessions_before": before, "listen_sessions_5s_after": after}, (start, end + 5)

    run_scenario(chaos, "postgres-restart", "PostgreSQL fast shutdown with consumers busy, 5 s down, "
                                            "start on the same datadir", inject)


# ------------------------------------------------------------------------------------------ 4
def test_identity_provider_stopped(chaos):
    """The identity provider stops for 20 s. Tokens issued before keep validating (the services cached
    the JWKS); a new login fails cleanly (connection refused); no authenticated call gets a 5xx. It
    starts again with the same key file, so earlier tokens stay valid."""
    p = chaos.platform
    token_url = f"{p.cfg.issuer}/protocol/openid-connect/token"
    login = {"grant_type": "password", "client_id": "careroute-cli", "username": "supervisor.tulcan",
             "password": "careroute-dev"}
    observed = {}

    def inject(c):
        c.tokens.refresh_all()                      # ~5 minutes of validity left for every driver
        old = c.tokens.get("caseworker.tulcan")
        start = time.monotonic()
        c.platform.procs["idp"].stop()
        try:
            try:
                httpx.post(token_url, data=login, timeout=5)
                observed["login_while_down"] = "answered"
            except httpx.ConnectError:
                observed["login_while_down"] = "connection refused"
            time.sleep(20)
            r = httpx.get(c.platform.cfg.service_url("intake") + "/v1/cases?limit=1",
                          headers={"Authorization": f"Bearer {old}"}, timeout=10)
            observed["cached_token_call_while_down"] = r.status_code
        finally:
            c.platform.start_again("idp")
        end = time.monotonic()
        fresh = httpx.post(token_url, data=login, timeout=10)
        observed["login_after_restart"] = fresh.status_code
        r = httpx.get(c.platform.cfg.service_url("referral") + "/v1/referrals?limit=1",
                      headers={"Authorization": f"Bearer {old}"}, timeout=10)
        observed["pre_outage_token_after_restart"] = r.status_code
        return 1, {**observed, "down_seconds": round(end - start, 1)}, (start, end)

    run_scenario(chaos, "idp-stopped", "identity provider stopped 20 s, restarted with the same keys", inject,
                 expect_no_5xx=True)
    assert observed["login_while_down"] == "connection refused"
    assert observed["cached_token_call_while_down"] == 200
    assert observed["login_after_restart"] == 200
    assert observed["pre_outage_token_after_restart"] == 200


# ------------------------------------------------------------------------------------------ 5
def test_smtp_sink_down_and_webhook_receiver_failing(chaos):
    """The SMTP sink is stopped (connection refused) and the MSP hospital's webhook receiver answers
    500 for 15 s; then the sink restarts (same maildir) and the receiver answers 200. Every e-mail and
    webhook owed is delivered once the failure ends, none twice."""

    def inject(c):
        start = time.monotonic()
        refused_before = c.receiver.summary()["answered_500"]
        mail_failures_before = c.platform.scalar(
            "notify", "select count(*) from delivery_attempts where outcome = 'temporary_failure'")
        c.platform.procs["smtp-sink"].stop()
        c.receiver.failing = True
        try:
            time.sleep(15)
        finally:
            c.receiver.failing = False
            c.platform.start_again("smtp-sink")
        end = time.monotonic()
        mail_failures = c.platform.scalar(
            "notify", "select count(*) from delivery_attempts where outcome = 'temporary_failure'")
        return 2, {"down_seconds": round(end - start, 1),
                   "webhook_attempts_answered_500": c.receiver.summary()["answered_500"] - refused_before,
                   "email_attempts_failed": mail_failures - mail_failures_before}, (start, end)

    run_scenario(chaos, "smtp-and-webhook-failing", "SMTP sink stopped and webhook receiver answering 500 for 15 s",
                 inject)
