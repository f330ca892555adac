"""The fault-injection suite (`make chaos`): opt-in, never part of `make test`.

It is collected only when the marker expression selects `chaos` (`pytest -m chaos`, which is what
`make chaos` runs) or when CAREROUTE_CHAOS=1 is set; otherwise this directory is ignored, so the
ordinary suite neither starts a second platform nor spends ten minutes hurting it.

The `chaos` fixture starts the whole platform as real processes (see chaos_platform.py), registers the
MSP hospital's webhook endpoint with a local receiver, and collects each scenario's figures; at the end
it prints the table and writes artifacts/chaos/report.json (artifacts/ is not versioned). Set
CAREROUTE_KEEP_TEST_RUN=1 to keep the run directory; the process logs are copied to
artifacts/chaos/logs/ whenever a scenario failed."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from careroute_devstack.stack import ROOT

ARTIFACTS = ROOT / "artifacts" / "chaos"
MARKER = "chaos: fault-injection suite (make chaos); needs the whole platform as processes, minutes to run"


def _enabled(config) -> bool:
    return "chaos" in (config.getoption("markexpr", "") or "") or os.environ.get("CAREROUTE_CHAOS") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", MARKER)


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "conftest.py":
        return None
    if not _enabled(config):
        return True
    return None


@dataclass(repr=False)
class ChaosRun:
    platform: object
    tokens: object
    ledger: object
    receiver: object
    endpoint_id: str
    services: dict
    started_at: float = field(default_factory=time.monotonic)
    startup_seconds: float = 0.0
    scenarios: list = field(default_factory=list)
    seen: set = field(default_factory=set)          # violations already reported by a scenario

    def __repr__(self) -> str:  # pytest prints fixtures in tracebacks: keep it to one line
        return f"ChaosRun(run_dir={self.platform.run_dir})"

    def stream(self, **kwargs):
        from chaos_workload import Stream

        return Stream(self.platform, self.tokens, self.ledger, self.services, **kwargs)

    def record(self, scenario: dict) -> None:
        self.scenarios.append(scenario)

    def report(self) -> dict:
        from chaos_invariants import republished

        snap = self.ledger.snapshot()
        try:
            broker = republished(self.platform)
        except Exception as exc:  # noqa: BLE001 - the report must still be written
            broker = {"error": str(exc)[:200]}
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_seconds": round(time.monotonic() - self.started_at, 1),
            "startup_seconds": round(self.startup_seconds, 1),
            "writes_acknowledged": sum(snap["acknowledged"].values()),
            "acknowledged_by_kind": snap["acknowledged"],
            "http_requests": sum(v for k, v in snap["counters"].items() if k.startswith("http.")
                                 and k.split(".")[-1].isdigit()),
            "unknown_outcome": snap["unknown_outcome"],
            "faults_injected": sum(s.get("faults_injected", 0) for s in self.scenarios),
            "lost": sum(s.get("lost", 0) for s in self.scenarios),
            "duplicated": sum(s.get("duplicated", 0) for s in self.scenarios),
            "other_violations": sum(s.get("other_violations", 0) for s in self.scenarios),
            "broker_records": broker,
            "scenarios": self.scenarios,
            "counters": snap["counters"],
        }


def print_table(report: dict) -> None:
    rows = [("scenario", "faults", "writes ack'd", "5xx", "quiet s", "lost", "dup", "other", "result")]
    for s in report["scenarios"]:
        rows.append((s["name"], str(s.get("faults_injected", 0)), str(s.get("writes_acknowledged", 0)),
                     str(s.get("server_errors", 0)), str(s.get("quiescence_seconds", "-")), str(s.get("lost", "-")),
                     str(s.get("duplicated", "-")), str(s.get("other_violations", "-")), s.get("result", "?")))
    rows.append(("TOTAL", str(report["faults_injected"]), str(report["writes_acknowledged"]), "", "",
                 str(report["lost"]), str(report["duplicated"]), str(report["other_violations"]), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = "  ".join("-" * w for w in widths)
    print("\n\nCare Route fault-injection suite")
    print(line)
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if i == 0 or i == len(rows) - 2:
            print(line)
    print(f"HTTP requests: {report['http_requests']}, unknown outcomes: {report['unknown_outcome']}, "
          f"broker: {report['broker_records']}, run: {report['duration_seconds']} s")
    print(f"report: {ARTIFACTS / 'report.json'}\n")


@pytest.fixture(scope="module")
def chaos():
    import threading

    from chaos_platform import ChaosPlatform
    from chaos_workload import Api, Ledger, Tokens, WebhookReceiver, find_services, register_webhook

    started = time.monotonic()
    platform = ChaosPlatform.create()
    receiver = WebhookReceiver()
    run = None
    failed = False
    try:
        platform.start()
        ledger = Ledger()
        tokens = Tokens(platform.cfg.issuer, ledger)
        endpoint_id = register_webhook(platform, tokens, receiver)
        api = Api(platform, tokens, ledger, threading.Event())
        services = find_services(api)
        api.close()
        run = ChaosRun(platform, tokens, ledger, receiver, endpoint_id, services)
        run.startup_seconds = time.monotonic() - started
        yield run
        failed = any(s.get("result") != "pass" for s in run.scenarios)
    except BaseException:
        failed = True
        raise
    finally:
        if run is not None:
            report = run.report()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=1, default=str))
            print_table(report)
        platform.stop()
        receiver.close()
        if failed or os.environ.get("CAREROUTE_KEEP_TEST_RUN"):
            dest = ARTIFACTS / "logs"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(platform.logs, dest, dirs_exist_ok=True)
            for log in platform.run_dir.glob("*.log"):  # PostgreSQL's log sits beside its data directory
                shutil.copy(log, dest / log.name)
        if not os.environ.get("CAREROUTE_KEEP_TEST_RUN"):
            shutil.rmtree(platform.run_dir, ignore_errors=True)
