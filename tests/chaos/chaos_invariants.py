"""The durability invariants, checked after the platform is quiet again.

Sources of truth are the services' own databases (read as the PostgreSQL superuser) and what the
API acknowledged (the ledger). Each check counts *lost* effects (something acknowledged or committed
that did not reach where it is owed) and *duplicated* effects (something that happened more than
once), with a few examples each, so a failure says what went missing where.

1. Every acknowledged write is in its service's database (cases, referrals at their acknowledged
   status or later); no write exists that the API did not acknowledge beyond the requests whose
   answer was lost (no ghost created by a retry).
2. Every outbox is drained.
3. Every case and sharing consent of intake is in referral's projection; every referral is in
   intake's projection and in notify's, at the source's status.
4. Every referral event is in notify's inbox once for each recipient it is owed to (created ->
   the receiving organisation's providers; accepted/completed -> the referring caseworker); no
   referral has two entries of one kind for one recipient; every anomaly reached the oversight office.
5. Every e-mail owed was delivered and is in the SMTP sink (by the X-Care-Route-Delivery header);
   nothing left pending. SMTP cannot be exactly-once (a sender killed between the relay's "250" and
   recording it sends again), so a re-send is allowed only as the *same message* (same Message-ID,
   which mail systems collapse); one delivery arriving as two different messages is a duplicate.
6. Every referral event about the MSP hospital's referrals reached its webhook endpoint (a delivered
   delivery row, a 2xx answer for that webhook-id); re-sends carry the same webhook-id (counted);
   one transition delivered as two events is a duplicate.
7. The audit log holds every event of every outbox exactly once and nothing else; its tree size
   equals its entry count; the latest checkpoint covers the whole tree.
8. No record was dead-lettered; every consumer group's lag is zero.
"""
from __future__ import annotations

import email.parser
import email.policy
import time
from collections import Counter
from dataclasses import dataclass, field

from chaos_workload import MSP, RANK, Ledger, WebhookReceiver

REFERRAL_STATUS_IN_INTAKE = {"pending": "created"}
SERVICES = ("intake", "referral", "notify", "audit")
DLT_TOPICS = ["careroute.case.dlt", "careroute.consent.dlt", "careroute.referral.dlt", "careroute.directory.dlt",
              "careroute.notification.dlt", "careroute.access.dlt", "careroute.anomaly.dlt"]


@dataclass
class Findings:
    """Violations by check, each with the items concerned (ids), so that a scenario can tell the
    violations it caused from those carried over from an earlier one."""

    lost: dict[str, list[str]] = field(default_factory=dict)
    duplicated: dict[str, list[str]] = field(default_factory=dict)
    other: dict[str, list[str]] = field(default_factory=dict)     # neither (lag, backlog, signatures)
    figures: dict = field(default_factory=dict)

    def lose(self, check: str, items) -> None:
        items = [str(i) for i in items]
        if items:
            self.lost.setdefault(check, []).extend(items)

    def duplicate(self, check: str, items) -> None:
        items = [str(i) for i in items]
        if items:
            self.duplicated.setdefault(check, []).extend(items)

    def violate(self, check: str, n: int, examples=()) -> None:
        if n:
            self.other.setdefault(check, []).extend([str(e) for e in examples] or [str(n)])

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.other)

    def keys(self) -> set[tuple[str, str, str]]:
        return {(bucket, check, item) for bucket, found in (("lost", self.lost), ("duplicated", self.duplicated))
                for check, items in found.items() for item in items}

    def summary(self, seen: set | None = None) -> dict:
        """Counts and examples; with `seen` (keys reported by earlier scenarios) also what is new."""
        def count(found):
            return {check: len(items) for check, items in found.items()}

        out = {"lost": sum(map(len, self.lost.values())), "duplicated": sum(map(len, self.duplicated.values())),
               "other_violations": sum(map(len, self.other.values())),
               "lost_by_check": count(self.lost), "duplicated_by_check": count(self.duplicated),
               "other_by_check": count(self.other),
               "examples": {check: items[:3] for found in (self.lost, self.duplicated, self.other)
                            for check, items in found.items()},
               "figures": self.figures}
        if seen is not None:
            new = self.keys() - seen
            out["new_lost"] = sum(1 for b, _, _ in new if b == "lost")
            out["new_duplicated"] = sum(1 for b, _, _ in new if b == "duplicated")
            by_check: dict[str, list[str]] = {}
            for _, check, item in sorted(new):
                by_check.setdefault(check, []).append(item)
            out["new_by_check"] = {check: {"count": len(items), "examples": items[:3]}
                                   for check, items in by_check.items()}
        return out


# ---------------------------------------------------------------------------------- quiescence
def quiet_state(platform) -> dict:
    """What must be zero (or equal) when nothing is in flight any more."""
    state = {}
    for s in SERVICES:
        state[f"{s}.outbox_backlog"] = platform.scalar(s, "select count(*) from outbox where published_at is null")
    state.update({f"lag.{g}": v for g, v in platform.consumer_lag().items()})
    state["notify.email_fanout_pending"] = platform.scalar(
        "notify", "select count(*) from notifications where email_status = 'pending'")
    state["notify.deliveries_pending"] = platform.scalar(
        "notify", "select count(*) from deliveries where status = 'pending' and (endpoint_id is null or endpoint_id "
                  "in (select id from webhook_endpoints where status = 'active'))")
    size = platform.scalar("audit", "select size from tree_head where id = 1") or 0
    signed = platform.scalar("audit", "select max(size) from checkpoints") or 0
    state["audit.unsigned_entries"] = size - signed
    return state


def wait_quiescent(platform, timeout: float = 120, settle: int = 2, *, give_up_if_dead: bool = False
                   ) -> tuple[bool, float, dict]:
    """Wait until `quiet_state` is all zeros `settle` times in a row. Returns (quiet, seconds, last
    state). With `give_up_if_dead`, stop waiting once a process has been dead (or not live) for two
    checks 5 s apart: a dead consumer will not catch up by itself."""
    started = time.monotonic()
    streak = 0
    state: dict = {}
    dead_before: set = set()
    checks = 0
    while time.monotonic() - started < timeout:
        try:
            state = quiet_state(platform)
        except Exception as exc:  # noqa: BLE001 - the database or broker may still be coming back
            state = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
            streak = 0
        else:
            streak = streak + 1 if not any(state.values()) else 0
            if streak >= settle:
                return True, time.monotonic() - started, state
        checks += 1
        if give_up_if_dead and checks % 5 == 0:
            dead = {n for n, s in platform.liveness().items() if s != "ok"}
            if dead & dead_before:
                return False, time.monotonic() - started, {**state, "dead": sorted(dead)}
            dead_before = dead
        time.sleep(1.0)
    return False, time.monotonic() - started, state


# ---------------------------------------------------------------------------------- the checks
def check_all(platform, ledger: Ledger, receiver: WebhookReceiver, endpoint_id: str) -> Findings:
    f = Findings()
    q = platform.query

    # 1. acknowledged writes are in the source database; no ghosts ---------------------------------
    intake_cases = {r[0] for r in q("intake", "select id from cases")}
    f.lose("intake: acknowledged case missing", sorted(set(ledger.cases) - intake_cases))
    ghosts = len(intake_cases - set(ledger.cases)) - ledger.unknown.get("case.register", 0)
    if ghosts > 0:
        f.duplicate("intake: cases nobody was acknowledged for (retry made a second case)",
                    sorted(intake_cases - set(ledger.cases))[:ghosts])
    referrals = {r.id: r for r in q("referral", "select id, case_id, status, receiving_organisation, "
                                                 "referring_caseworker from referrals")}
    missing, behind = [], []
    for rid, acked in list(ledger.referrals.items()):
        row = referrals.get(rid)
        if row is None:
            missing.append(rid)
        elif RANK.get(row.status, 9) < RANK[acked["status"]]:
            behind.append(f"{rid} acknowledged {acked['status']} but is {row.status}")
    f.lose("referral: acknowledged referral missing", missing)
    f.lose("referral: acknowledged transition missing", behind)
    ghosts = len(set(referrals) - set(ledger.referrals)) - ledger.unknown.get("referral.create", 0)
    if ghosts > 0:
        f.duplicate("referral: referrals nobody was acknowledged for", sorted(set(referrals) - set(ledger.referrals))[:ghosts])

    # 2. outboxes drained ----------------------------------------------------------------------------
    for s in SERVICES:
        backlog = platform.scalar(s, "select count(*) from outbox where published_at is null")
        f.violate(f"{s}: outbox not drained", backlog, [f"{backlog} rows"])

    # 3. projections -----------------------------------------------------------------------------------
    projected = {r.case_id: r for r in q("referral", "select case_id, registered from case_projection")}
    f.lose("referral projection: case missing", sorted(c for c in intake_cases
                                                       if c not in projected or not projected[c].registered))
    intake_consents = {r[0] for r in q("intake", "select id from consents where purpose = 'sharing'")}
    projected_consents = {r[0] for r in q("referral", "select consent_id from consent_projection where granted")}
    f.lose("referral projection: sharing consent missing", sorted(intake_consents - projected_consents))
    registered_events = Counter(r[0] for r in q("intake", "select aggregateid from outbox "
                                                          "where type = 'org.iom.careroute.case.registered.v1'"))
    f.duplicate("intake: case.registered raised twice for a case", [c for c, n in registered_events.items() if n > 1])
    f.lose("intake: case without case.registered event", sorted(intake_cases - set(registered_events)))

    access = {r.referral_id: r.status for r in q("intake", "select referral_id, status from referral_access")}
    notify_refs = {r.referral_id: r.status for r in q("notify", "select referral_id, status from referrals")}
    for name, projection in (("intake referral projection", access), ("notify referral projection", notify_refs)):
        absent, stale = [], []
        for rid, row in referrals.items():
            want = REFERRAL_STATUS_IN_INTAKE.get(row.status, row.status) if name.startswith("intake") else row.status
            have = projection.get(rid)
            if have is None:
                absent.append(rid)
            elif have != want:
                stale.append(f"{rid}: {have} != {want}")
        f.lose(f"{name}: referral missing", absent)
        f.lose(f"{name}: status behind the source", stale)

    # 4. inbox -----------------------------------------------------------------------------------------
    events = q("referral", "select id::text as id, type, payload from outbox where type like 'org.iom.careroute.referral.%'")
    inbox = Counter((r.event_id, r.recipient) for r in q("notify", "select event_id, recipient from notifications"))
    owed_missing, owed = [], 0
    for e in events:
        name = e.type.split("careroute.", 1)[1].rsplit(".", 1)[0]
        data = e.payload
        if name == "referral.created":
            recipient = f"org:{data['receiving_organisation']}"
        elif name in ("referral.accepted", "referral.completed"):
            recipient = f"user:{data['referring_caseworker']}"
        else:
            continue
        owed += 1
        if inbox.get((e.id, recipient), 0) == 0:
            owed_missing.append(f"{name} {data['referral_id']} -> {recipient}")
    f.lose("notify inbox: notice owed but missing", owed_missing)
    twice = q("notify", "select referral_id, kind, recipient, count(*) n from notifications where referral_id is not null "
                        "group by referral_id, kind, recipient having count(*) > 1")
    f.duplicate("notify inbox: same notice twice for a referral", [f"{r.referral_id} {r.kind} {r.recipient}" for r in twice])
    anomalies = {r[0] for r in q("audit", "select id::text from outbox where type = 'org.iom.careroute.anomaly.detected.v1'")}
    noticed = {r[0] for r in q("notify", "select event_id from notifications where kind = 'anomaly_detected'")}
    f.lose("notify inbox: anomaly not told to oversight", sorted(anomalies - noticed))
    f.figures["inbox_notices_owed"] = owed + len(anomalies)
    f.figures["inbox_entries"] = sum(inbox.values())

    # 5. e-mail ----------------------------------------------------------------------------------------
    pending = platform.scalar("notify", "select count(*) from notifications where email_status = 'pending'")
    f.violate("notify e-mail: fan-out still pending", pending, [f"{pending} notices"])
    mail_rows = q("notify", "select id::text as id, status, last_error from deliveries where channel = 'email'")
    not_sent = [f"{r.id} {r.status} {r.last_error}" for r in mail_rows if r.status != "delivered"]
    f.lose("notify e-mail: delivery not delivered", not_sent)
    in_sink = sink_messages(platform)
    delivered = {r.id for r in mail_rows if r.status == "delivered"}
    f.lose("smtp sink: delivered e-mail not in the sink", sorted(delivered - set(in_sink)))
    # SMTP cannot be exactly-once: a sender that dies after the relay accepted a message and before it
    # recorded that sends it again. Such a re-send must be recognisably the same message (one
    # Message-ID), so that mail systems and people can collapse it; two different messages for one
    # delivery are a duplicate.
    f.duplicate("smtp sink: one delivery received as different messages (different Message-IDs)",
                [f"{d} x{len(ids)}" for d, ids in in_sink.items() if len(ids) > 1 and len(set(ids)) > 1])
    f.figures["emails_owed"] = len(mail_rows)
    f.figures["emails_in_sink"] = sum(len(ids) for ids in in_sink.values())
    f.figures["emails_resent_same_message_id"] = sum(len(ids) - 1 for ids in in_sink.values()
                                                    if len(ids) > 1 and len(set(ids)) == 1)

    # 6. webhooks --------------------------------------------------------------------------------------
    hook_events = [e for e in events if MSP in (e.payload.get("receiving_organisation"), e.payload.get("referring_office"))]
    rows = {r.event_id: r for r in q("notify", "select event_id, status, attempts from deliveries "
                                               "where channel = 'webhook' and endpoint_id = :e", e=endpoint_id)}
    answered = receiver.delivered()
    f.lose("webhook: delivery owed but not recorded", [e.id for e in hook_events if e.id not in rows])
    f.lose("webhook: delivery not delivered", [f"{e.id} {rows[e.id].status}" for e in hook_events
                                               if e.id in rows and rows[e.id].status != "delivered"])
    f.lose("webhook: receiver never answered 2xx", [e.id for e in hook_events
                                                    if e.id in rows and rows[e.id].status == "delivered"
                                                    and not answered.get(e.id)])
    # At least once, like e-mail: a re-send carries the same webhook-id (receivers de-duplicate on it,
    # Standard Webhooks); counted, not a violation. Two deliveries of one transition are.
    f.figures["webhooks_resent_same_webhook_id"] = sum(n - 1 for n in answered.values() if n > 1)
    twice = q("notify", "select payload->'data'->>'referral_id' r, kind, count(*) n from deliveries "
                        "where channel = 'webhook' and endpoint_id = :e group by 1, 2 having count(*) > 1", e=endpoint_id)
    f.duplicate("webhook: one referral transition delivered as two events", [f"{r.r} {r.kind} x{r.n}" for r in twice])
    f.figures["webhooks_owed"] = len(hook_events)
    f.figures["webhook_attempts"] = sum(r.attempts for r in rows.values())
    f.figures["webhook_receiver"] = receiver.summary()
    f.violate("webhook: signature did not verify", f.figures["webhook_receiver"]["bad_signatures"])

    # 7. audit log -------------------------------------------------------------------------------------
    produced = set()
    for s in SERVICES:
        produced |= {r[0] for r in q(s, "select id::text from outbox")}
    entries = q("audit", "select event_id from entries")
    logged = Counter(r[0] for r in entries)
    f.lose("audit: event not in the log", sorted(produced - set(logged)))
    f.duplicate("audit: event logged twice", [i for i, n in logged.items() if n > 1])
    f.violate("audit: entry for an event no service produced", len(set(logged) - produced),
              sorted(set(logged) - produced))
    size = platform.scalar("audit", "select size from tree_head where id = 1")
    top = platform.scalar("audit", "select coalesce(max(index) + 1, 0) from entries")
    if not (size == len(entries) == top):
        f.violate("audit: tree size != entries", 1, [f"tree {size}, entries {len(entries)}, max index+1 {top}"])
    signed = platform.scalar("audit", "select max(size) from checkpoints") or 0
    if signed != size:
        f.violate("audit: latest checkpoint does not cover the tree", 1, [f"checkpoint {signed}, tree {size}"])
    f.figures["events_produced"] = len(produced)
    f.figures["audit_entries"] = len(entries)

    # 8. dead letters and lag --------------------------------------------------------------------------
    dead = platform.topic_records(DLT_TOPICS)
    f.lose("dead-lettered records (effect not applied for that consumer group)",
           [_dlt_line(r) for r in dead])
    lag = platform.consumer_lag()
    f.violate("consumer lag not zero", sum(lag.values()), [f"{g}: {n}" for g, n in lag.items() if n])
    f.figures["consumer_lag"] = lag
    f.figures["dead_lettered"] = len(dead)
    return f


def _dlt_line(record) -> str:
    h = {k: v.decode(errors="replace") for k, v in record.headers or []}
    return (f"{h.get('dlt_consumer_group')} {h.get('ce_type', '?').rsplit('.', 2)[-2]} {h.get('ce_id')} "
            f"{h.get('dlt_error_type')}: {h.get('dlt_error_message', '')[:80]}")


def sink_messages(platform) -> dict[str, list[str]]:
    """Messages in the SMTP sink's maildir: per notify delivery id (X-Care-Route-Delivery), the
    Message-ID of each copy received."""
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    found: dict[str, list[str]] = {}
    if not platform.maildir.exists():
        return found
    for path in platform.maildir.glob("*.eml"):
        with open(path, "rb") as fh:
            headers = parser.parse(fh)
        found.setdefault(str(headers.get("X-Care-Route-Delivery", f"<none {path.name}>")), []).append(
            str(headers.get("Message-ID", "")))
    return found


def republished(platform) -> dict[str, int]:
    """Records on the domain topics whose event id is on the broker more than once: the relay's
    at-least-once publishing at work (consumers must absorb these)."""
    from chaos_platform import CONSUMER_GROUPS

    ids = platform.event_ids_on(CONSUMER_GROUPS["audit"][1])
    return {"records": sum(ids.values()), "distinct_events": len(ids),
            "republished_records": sum(n - 1 for n in ids.values() if n > 1)}


def verify_audit_export(platform, tokens) -> dict:
    """An auditor's export of the whole log, re-verified offline against the signed checkpoint with
    the audit package's verifier library."""
    import httpx
    from audit.verifier import load_keys, verify_export

    base = platform.cfg.service_url("audit")
    headers = {"Authorization": f"Bearer {tokens.get('auditor.oversight')}"}
    with httpx.Client(timeout=120, headers=headers) as client:
        keys = client.get(base + "/keys", params={"format": "text", "purpose": "chaos-suite"})
        keys.raise_for_status()
        export = client.get(base + "/export", params={"format": "jsonl", "purpose": "chaos-suite"})
        export.raise_for_status()
        size = int(export.headers["audit-tree-size"])
        note = client.get(f"{base}/checkpoints/{size}", params={"format": "note", "purpose": "chaos-suite"})
        note.raise_for_status()
    trusted = load_keys([line for line in keys.text.splitlines() if line and not line.startswith("#")])
    report = verify_export(export.text.splitlines(), note.text, trusted)
    return {"ok": report.ok, "entries": report.entries, "checkpoint_size": size,
            "problems": [f"{p.code}: {p.message}" for p in report.problems[:5]]}
