"""Benchmark of the audit log's Merkle tree core (pure Python, in-memory node store).

Prints, for each tree size: batched append throughput, single-leaf append throughput (one
store read per append, as a service appending per request would do), and the mean time to
generate and to verify inclusion and consistency proofs; then the time to re-verify a whole
export. Use --json PATH to also write the figures as JSON.

    .venv/bin/python bench/merkle_bench.py [--sizes 10000 100000 1000000] [--proofs 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

try:
    import audit  # noqa: F401  (installed editable in the workspace venv)
except ImportError:  # running from a bare checkout: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "audit" / "src"))

from audit.domain.checkpoint import Checkpoint, generate_signer, parse_signer, sign_checkpoint
from audit.domain.merkle import (
    InMemoryNodeStore,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from audit.verifier import entry_leaf_hash, export_line, verify_export


def bench_size(n: int, proofs: int, rng: random.Random) -> dict[str, Any]:
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]
    store = InMemoryNodeStore()

    t = time.perf_counter()
    store.put_many(append_leaves(store, 0, leaves))
    batch_s = time.perf_counter() - t

    # Single appends on top of the full tree: each reads the O(log n) right edge once.
    singles = 10_000
    extra = [leaf_hash(b"extra" + i.to_bytes(8, "big")) for i in range(singles)]
    t = time.perf_counter()
    for i, h in enumerate(extra):
        store.put_many(append_leaves(store, n + i, [h]))
    single_s = time.perf_counter() - t

    size = n  # prove against the size-n tree (a historical size: the store now holds more)
    tree_root = root(store, size)
    indexes = [rng.randrange(size) for _ in range(proofs)]
    old_sizes = [rng.randrange(1, size) for _ in range(proofs)]

    t = time.perf_counter()
    incl = [inclusion_proof(store, i, size) for i in indexes]
    incl_gen = time.perf_counter() - t
    t = time.perf_counter()
    for i, p in zip(indexes, incl):
        verify_inclusion(leaves[i], i, size, p, tree_root)
    incl_ver = time.perf_counter() - t

    old_roots = [root(store, s) for s in old_sizes]
    t = time.perf_counter()
    cons = [consistency_proof(store, s, size) for s in old_sizes]
    cons_gen = time.perf_counter() - t
    t = time.perf_counter()
    for s, r, p in zip(old_sizes, old_roots, cons):
        verify_consistency(s, size, p, r, tree_root)
    cons_ver = time.perf_counter() - t

    return {
        "leaves": n,
        "build_s": batch_s,
        "batch_appends_per_s": n / batch_s,
        "single_appends_per_s": singles / single_s,
        "inclusion_gen_us": incl_gen / proofs * 1e6,
        "inclusion_verify_us": incl_ver / proofs * 1e6,
        "inclusion_proof_len_mean": sum(map(len, incl)) / proofs,
        "consistency_gen_us": cons_gen / proofs * 1e6,
        "consistency_verify_us": cons_ver / proofs * 1e6,
        "consistency_proof_len_mean": sum(map(len, cons)) / proofs,
    }


def bench_export(n: int) -> dict[str, Any]:
    entries = [
        {
            "seq": i,
            "actor": f"caseworker-{i % 97}",
            "action": "referral.viewed",
            "subject": f"ref-{i:08d}",
            "at": "2025-01-01T10:00:00Z",
        }
        for i in range(n)
    ]
    lines = [export_line(i, e).encode() for i, e in enumerate(entries)]
    store = InMemoryNodeStore()
    store.put_many(append_leaves(store, 0, (entry_leaf_hash(e) for e in entries)))
    skey, vkey = generate_signer("bench.example/audit")
    note = sign_checkpoint(Checkpoint("bench.example/audit", n, root(store, n)), parse_signer(skey))
    t = time.perf_counter()
    report = verify_export(lines, note, [vkey])
    elapsed = time.perf_counter() - t
    assert report.ok, report.problems[:3]
    return {"entries": n, "verify_s": elapsed, "entries_per_s": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--export-entries", type=int, default=100_000)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    rng = random.Random(6962)

    print(
        f"Python {platform.python_version()} on {platform.machine()}, in-memory node store, "
        f"{args.proofs} proofs per size\n"
    )
    header = (
        f"{'leaves':>9} {'build s':>8} {'batch app/s':>12} {'single app/s':>13} "
        f"{'incl gen us':>12} {'incl ver us':>12} {'cons gen us':>12} {'cons ver us':>12}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for n in args.sizes:
        r = bench_size(n, args.proofs, rng)
        results.append(r)
        print(
            f"{n:>9} {r['build_s']:>8.2f} "
            f"{r['batch_appends_per_s']:>12,.0f} {r['single_appends_per_s']:>13,.0f} "
            f"{r['inclusion_gen_us']:>12.1f} {r['inclusion_verify_us']:>12.1f} "
            f"{r['consistency_gen_us']:>12.1f} {r['consistency_verify_us']:>12.1f}",
            flush=True,
        )

    export = bench_export(args.export_entries)
    print(
        f"\nverify_export of {export['entries']:,} entries: {export['verify_s']:.2f} s "
        f"({export['entries_per_s']:,.0f} entries/s, RFC 8785 canonicalisation included)"
    )

    if args.json:
        args.json.write_text(json.dumps({"merkle": results, "export": export}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
