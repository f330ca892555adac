"""Benchmark of the audit log through the real PostgreSQL store (embedded PostgreSQL, fsync on).

Prints: entry building (allow-list + RFC 8785 + leaf hash) per second; batched appends per second
through the service layer (one transaction per batch: processed-events rows, entries, tree nodes,
head, anomaly rules) as the service's runtime role; then, at each tree size, the mean time to
generate inclusion and consistency proofs from PostgreSQL (one query each) and to verify them; the
time to stream a whole-log export out of PostgreSQL and to re-verify it with the offline verifier.
Sizes past what is appended are bulk-loaded with COPY (entries and tree nodes, computed in Python).
The in-memory tree at 10^6 is covered by bench/merkle_bench.py.

    .venv/bin/python bench/audit_bench.py [--sizes 10000 100000] [--append 20000] [--batch 500]
                                          [--proofs 500] [--million] [--json PATH]
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import audit  # noqa: F401  (installed editable in the workspace venv)
except ImportError:  # a bare checkout: use the source trees
    for part in ("services/audit/src", "libs/platform/src", "devstack/src"):
        sys.path.insert(0, str(ROOT / part))

import psycopg
from audit.adapters.keys import LogKeys
from audit.adapters.orm import entries
from audit.adapters.store import PgNodeStore
from audit.definition import DEFINITION
from audit.domain.anomaly import Thresholds
from audit.domain.checkpoint import Checkpoint, generate_signer, parse_signer, parse_verifier, sign_checkpoint
from audit.domain.entry import build_entry
from audit.domain.merkle import (
    append_leaves,
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)
from audit.service_layer import proofs
from audit.service_layer.log import append_entries
from audit.settings import AuditSettings
from audit.verifier import verify_export
from careroute_devstack.infra import Postgres, free_port
from careroute_devstack.stack import provision_database
from careroute_platform.migrations import upgrade
from sqlalchemy import select
from sqlalchemy.engine import make_url

ACCESS = "org.iom.careroute.access.recorded.v1"
ORIGIN = "bench.careroute.iom.int/audit"
SUBJECTS = [str(uuid.UUID(int=i)) for i in range(1, 301)]
OFFICES = ["/iom/tulcan", "/iom/ibarra", "/iom/lago-agrio", "/civil-society/alas-de-colibri", "/government/msp/hospital-tulcan"]


def make_entries(start: int, n: int, rng: random.Random):
    """n access decisions as intake emits them (reads of cases by 300 caseworkers, one every 2 s in
    all: each caseworker opens a case about every 10 minutes), as log entries."""
    t0 = datetime(2025, 3, 5, 13, 0, tzinfo=UTC)
    out = []
    for i in range(start, start + n):
        subject = SUBJECTS[i % len(SUBJECTS)]
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        data = {"actor": {"subject": subject, "organisation": OFFICES[i % len(OFFICES)], "roles": ["caseworker"],
                          "client": "careroute-frontend"},
                "action": "case.read", "resource": {"type": "case", "id": case_id},
                "outcome": "allowed" if i % 50 else "denied", "reason": "own-office", "service": "intake",
                "trace_id": None}
        out.append(build_entry(event_id=str(uuid.UUID(int=rng.getrandbits(128))), event_type=ACCESS,
                               source="/careroute/intake", time=(t0 + timedelta(seconds=2 * i)).isoformat(),
                               key=case_id, traceparent=f"00-{i + 1:032x}-{1:016x}-01", data=data))
        _ = out[-1].leaf_hash  # canonicalise and hash here, as the consumer does before its transaction
    return out


class BenchUow:
    """The service's unit of work without the outbox (anomaly events are counted, not published)."""

    def __init__(self, session_factory) -> None:
        self.session_factory = session_factory
        self.published = 0

    def __enter__(self):
        self.session = self.session_factory()
        return self

    def __exit__(self, *exc):
        self.session.rollback()
        self.session.close()

    def publish(self, event) -> None:
        self.published += 1

    def commit(self) -> None:
        self.session.commit()


def psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bench_appends(runtime, n: int, batch: int, rng: random.Random, thresholds: Thresholds | None) -> dict[str, Any]:
    t = time.perf_counter()
    items = make_entries(current_size(runtime), n, rng)
    build_s = time.perf_counter() - t
    uow = BenchUow(runtime.session_factory)
    t = time.perf_counter()
    for start in range(0, n, batch):
        with uow:
            append_entries(uow, items[start:start + batch], consumer_group="bench",
                           processed_table=runtime.processed_table, thresholds=thresholds)
            uow.commit()
    append_s = time.perf_counter() - t
    return {"entries": n, "batch": batch, "anomaly_rules": thresholds is not None,
            "build_entries_per_s": n / build_s, "appends_per_s": n / append_s, "append_s": append_s,
            "anomalies_raised": uow.published}


def current_size(runtime) -> int:
    with runtime.engine.connect() as conn:
        return conn.exec_driver_sql("select size from tree_head").scalar_one()


def bulk_load(runtime, target: int, rng: random.Random, chunk: int = 50_000) -> dict[str, Any]:
    """Grow the log to `target` with COPY (entries + nodes computed here), as the runtime role."""
    size = initial = current_size(runtime)
    if size >= target:
        return {"loaded_to": size, "seconds": 0.0}
    t = time.perf_counter()
    build_s = 0.0
    with psycopg.connect(psycopg_dsn(runtime.settings.database_url)) as conn:
        from sqlalchemy.orm import Session

        with Session(runtime.engine) as session:
            frontier_store = PgNodeStore(session)
            while size < target:
                n = min(chunk, target - size)
                b = time.perf_counter()
                items = make_entries(size, n, rng)
                nodes = append_leaves(frontier_store if size else _Empty(), size, [e.leaf_hash for e in items])
                build_s += time.perf_counter() - b
                with conn.cursor() as cur:
                    with cur.copy('copy entries ("index", event_id, event_type, entry, leaf_hash, occurred_at, '
                                  'actor_subject, actor_organisation, action, resource_type, resource_id, case_id, '
                                  'outcome, source_service) from stdin') as copy:
                        for offset, e in enumerate(items):
                            c = e.columns()
                            copy.write_row((size + offset, c["event_id"], c["event_type"], e.canonical.decode(),
                                            e.leaf_hash, c["occurred_at"], c["actor_subject"], c["actor_organisation"],
                                            c["action"], c["resource_type"], c["resource_id"], c["case_id"],
                                            c["outcome"], c["source_service"]))
                    with cur.copy('copy tree_nodes (level, "index", hash) from stdin') as copy:
                        for (level, index), value in nodes:
                            copy.write_row((level, index, value))
                    cur.execute("update tree_head set size = %s", (size + n,))
                conn.commit()
                size += n
                session.rollback()  # see the committed nodes on the next chunk
    total = time.perf_counter() - t
    return {"loaded_to": target, "seconds": total, "entries_per_s": (target - initial) / total,
            "python_build_s": build_s}


class _Empty:
    def get_many(self, keys):
        return {}


def bench_proofs(runtime, size: int, count: int, rng: random.Random) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    with Session(runtime.engine) as session:
        store = PgNodeStore(session)
        tree_root = root(store, size)
        indexes = [rng.randrange(size) for _ in range(count)]
        leaves = dict(session.execute(select(entries.c.index, entries.c.leaf_hash)
                                      .where(entries.c.index.in_(indexes))).all())
        t = time.perf_counter()
        incl = [inclusion_proof(store, i, size) for i in indexes]
        incl_gen = time.perf_counter() - t
        t = time.perf_counter()
        for i, p in zip(indexes, incl):
            verify_inclusion(bytes(leaves[i]), i, size, p, tree_root)
        incl_ver = time.perf_counter() - t
        olds = [rng.randrange(1, size) for _ in range(count)]
        old_roots = [root(store, s) for s in olds]
        t = time.perf_counter()
        cons = [consistency_proof(store, s, size) for s in olds]
        cons_gen = time.perf_counter() - t
        t = time.perf_counter()
        for s, r, p in zip(olds, old_roots, cons):
            verify_consistency(s, size, p, r, tree_root)
        cons_ver = time.perf_counter() - t
        t = time.perf_counter()
        root(store, size)
        root_ms = (time.perf_counter() - t) * 1e3
    return {"size": size, "proofs": count, "inclusion_gen_ms": incl_gen / count * 1e3,
            "inclusion_verify_us": incl_ver / count * 1e6, "consistency_gen_ms": cons_gen / count * 1e3,
            "consistency_verify_us": cons_ver / count * 1e6, "root_ms": root_ms}


def bench_export(runtime, keys: LogKeys, size: int) -> dict[str, Any]:
    with runtime.session_factory() as session:  # a checkpoint for exactly this (possibly historical) size
        note = sign_checkpoint(Checkpoint(ORIGIN, size, root(PgNodeStore(session), size)), keys.require_signer())
    t = time.perf_counter()
    buf = io.StringIO()
    with runtime.session_factory() as session:
        for row in proofs.export_rows(session, {}, size):
            buf.write(proofs.jsonl_line(row.index, row.entry, row.leaf_hash))
    export_s = time.perf_counter() - t
    data = buf.getvalue()
    lines = data.splitlines(keepends=True)
    t = time.perf_counter()
    report = verify_export(lines, note, list(keys.trusted))
    verify_s = time.perf_counter() - t
    assert report.ok, report.problems[:3]
    return {"entries": size, "export_mb": len(data) / 1e6, "export_s": export_s, "verify_s": verify_s,
            "verify_entries_per_s": size / verify_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--append", type=int, default=20_000, help="entries appended through the service layer")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--proofs", type=int, default=500)
    parser.add_argument("--million", action="store_true", help="also bulk-load to 10^6 and measure there")
    parser.add_argument("--json", type=Path, metavar="PATH")
    parser.add_argument("--keep", action="store_true", help="keep the temporary PostgreSQL data directory")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes + ([1_000_000] if args.million else [])))
    rng = random.Random(9162)

    run_dir = Path(tempfile.mkdtemp(prefix="careroute-audit-bench-"))
    pg = Postgres(run_dir / "pgdata", free_port()).start()
    try:
        runtime_url, owner_url = provision_database(pg, "audit_bench", "bench-pw")
        upgrade(owner_url, DEFINITION.migrations)
        settings = AuditSettings(_env_file=None, database_url=runtime_url, migration_database_url=owner_url)
        runtime = DEFINITION.runtime(settings)
        skey, vkey = generate_signer(ORIGIN)
        keys = LogKeys(ORIGIN, parse_signer(skey), parse_verifier(vkey))
        print(f"Python {platform.python_version()} on {platform.machine()}; embedded PostgreSQL (fsync on), "
              f"runtime role; batches of {args.batch}\n")

        appends = []
        half = args.append // 2
        for thresholds in (None, Thresholds()):
            r = bench_appends(runtime, half, args.batch, rng, thresholds)
            appends.append(r)
            print(f"append {r['entries']:>7,} entries, anomaly rules {'on ' if r['anomaly_rules'] else 'off'}: "
                  f"{r['appends_per_s']:>8,.0f} entries/s appended  "
                  f"(building entries: {r['build_entries_per_s']:,.0f}/s)", flush=True)
        single = bench_appends(runtime, 500, 1, rng, Thresholds())
        print(f"append     500 entries one per transaction:   {single['appends_per_s']:>8,.0f} entries/s", flush=True)

        print(f"\n{'size':>9} {'load s':>8} {'incl gen ms':>12} {'incl ver us':>12} {'cons gen ms':>12} "
              f"{'cons ver us':>12} {'root ms':>8}")
        results, loads, exports = [], [], []
        for size in sizes:
            load = bulk_load(runtime, size, rng)
            loads.append(load)
            r = bench_proofs(runtime, size, args.proofs, rng)
            results.append(r)
            print(f"{size:>9,} {load.get('seconds', 0.0):>8.1f} {r['inclusion_gen_ms']:>12.2f} "
                  f"{r['inclusion_verify_us']:>12.1f} {r['consistency_gen_ms']:>12.2f} "
                  f"{r['consistency_verify_us']:>12.1f} {r['root_ms']:>8.2f}", flush=True)
            if size <= 100_000 or args.million:
                e = bench_export(runtime, keys, size)
                exports.append(e)
        print()
        for e in exports:
            print(f"whole-log export of {e['entries']:>9,} entries: streamed from PostgreSQL in {e['export_s']:.2f} s "
                  f"({e['export_mb']:.1f} MB), verified offline in {e['verify_s']:.2f} s "
                  f"({e['verify_entries_per_s']:,.0f} entries/s)")
        if args.json:
            args.json.write_text(json.dumps({"appends": appends, "single_appends": single, "loads": loads,
                                             "proofs": results, "exports": exports}, indent=2, default=str) + "\n")
            print(f"wrote {args.json}")
    finally:
        if "runtime" in locals():
            runtime.engine.dispose()  # let PostgreSQL's smart shutdown finish at once
        pg.stop()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
