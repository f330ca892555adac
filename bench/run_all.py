"""`make bench`: measures this machine's raw ceilings and then every platform benchmark in the same
run, prints each figure absolute and as a ratio to its ceiling, and writes bench/results/report.json,
report.md and PNG plots. Each platform benchmark is a script `bench/<name>_bench.py` that accepts
`--json PATH` and writes a flat or nested JSON object of figures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Which ceiling a platform figure is compared with (matched on substrings of the figure's name).
CEILING_FOR = [
    ("registrations_per_s", "http_minimal_per_s"),
    ("create_per_second", "http_minimal_per_s"),
    ("transitions_per_s", "http_minimal_per_s"),
    ("relay", "kafka_produce_per_s"),
    ("appends_per_s", "postgres_insert_commit_per_s"),
    ("append", "postgres_insert_commit_per_s"),
    ("_ms", "kafka_ack_p50_ms"),
]


def flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def start_infra(run_dir: Path):
    from careroute_devstack.infra import Broker, Postgres, free_port
    from careroute_devstack.stack import create_topics

    pg = Postgres(run_dir / "pgdata", free_port()).start()
    broker = Broker(free_port(), run_dir).start()
    create_topics(broker.bootstrap)
    return pg, broker


def run_ceilings(pg, broker) -> dict:
    from careroute_devstack.infra import free_port

    out = RESULTS / "ceilings.json"
    subprocess.run([sys.executable, str(HERE / "ceilings.py"), "--bootstrap", broker.bootstrap,
                    "--postgres-url", f"postgresql://postgres@127.0.0.1:{pg.port}/postgres",
                    "--http-port", str(free_port()), "--json", str(out)], check=True)
    return json.loads(out.read_text())


def run_platform_benches() -> dict[str, dict]:
    results = {}
    for script in sorted(HERE.glob("*_bench.py")):
        name = script.stem.removesuffix("_bench")
        out = RESULTS / f"{name}.json"
        print(f"\n== {name} ==", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script), "--json", str(out)], timeout=900)
        if proc.returncode != 0 or not out.exists():
            print(f"   {name}: failed (exit {proc.returncode})")
            results[name] = {"failed": True}
            continue
        figures: dict = {}
        flatten("", json.loads(out.read_text()), figures)
        figures["bench_seconds"] = time.monotonic() - started
        results[name] = figures
    return results


def ratio(name: str, value: float, ceilings: dict) -> tuple[str, float] | None:
    last = name.rsplit(".", 1)[-1]
    is_rate = last.endswith(("per_s", "per_second")) or "_per_second_" in last
    is_latency = "_ms" in name and last in ("p50", "p95", "p99", "mean", "max")
    if not (is_rate or is_latency):
        return None  # counts and settings have no ceiling
    for needle, ceiling in CEILING_FOR:
        if needle in name and ceiling in ceilings and ceilings[ceiling]:
            c = ceilings[ceiling]
            # for latencies the ceiling is a floor: report how many times the floor it is
            return ceiling, value / c
    return None


def report(ceilings: dict, benches: dict) -> str:
    lines = ["# Benchmark report", "", f"Machine: {os.cpu_count()} cores. Generated {time.strftime('%Y-%m-%d %H:%M')}.",
             "", "## Raw ceilings", "", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v:,.1f} |" for k, v in ceilings.items()]
    for bench, figures in benches.items():
        lines += ["", f"## {bench}", "", "| figure | value | ratio to ceiling |", "|---|---|---|"]
        for k, v in figures.items():
            if isinstance(v, bool):
                continue
            r = ratio(k, v, ceilings)
            lines.append(f"| {k} | {v:,.3f} | {f'{r[1]:.3f} × {r[0]}' if r else ''} |")
    return "\n".join(lines) + "\n"


def plots(ceilings: dict, benches: dict) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots")
        return
    for bench, figures in benches.items():
        lat = {k: v for k, v in figures.items() if any(p in k for p in ("p50", "p95", "p99"))}
        if lat:
            fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(lat))))
            ax.barh(list(lat), list(lat.values()))
            ax.set_xlabel("milliseconds (or as named)")
            ax.set_title(f"{bench}: latency percentiles")
            fig.tight_layout()
            fig.savefig(RESULTS / f"{bench}-latency.png")
            plt.close(fig)
        growth = {k: v for k, v in figures.items() if any(s in k for s in ("10000", "100000", "1000000", "cases_"))}
        if growth:
            fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(growth))))
            ax.barh(list(growth), list(growth.values()))
            ax.set_xscale("log")
            ax.set_title(f"{bench}: growth with size")
            fig.tight_layout()
            fig.savefig(RESULTS / f"{bench}-growth.png")
            plt.close(fig)


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="careroute-bench-"))
    pg, broker = start_infra(run_dir)
    try:
        print("== raw ceilings ==", flush=True)
        ceilings = run_ceilings(pg, broker)
    finally:
        broker.stop()
        pg.stop()
    benches = run_platform_benches()
    (RESULTS / "report.json").write_text(json.dumps({"ceilings": ceilings, "benchmarks": benches}, indent=1))
    md = report(ceilings, benches)
    (RESULTS / "report.md").write_text(md)
    plots(ceilings, benches)
    print("\n" + md)
    print(f"written: {RESULTS}/report.md, report.json, *.png")


if __name__ == "__main__":
    main()
