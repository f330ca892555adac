"""The whole platform as real processes, with handles to hurt it.

PostgreSQL, the Tansu broker (topics created), the development identity provider, the SMTP sink, and
for each service `migrate`, then `api`, `relay` and `worker` processes, exactly as `make up` runs them
(`careroute_devstack.stack`), on an ephemeral `StackConfig` so a running `make up` is never touched.

Every process is a `Proc` that can be paused (SIGSTOP/SIGCONT), killed (SIGKILL) and restarted with the
same command line and environment. The platform also reads what the invariants need: each service's
database through the superuser (`admin_engine`), the workers' `/metrics`, consumer-group offsets and
the records on the topics."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from careroute_devstack.infra import Broker, Postgres, free_port, wait_for_port
from careroute_devstack.stack import (
    REALM_FILE,
    ROOT,
    SERVICES,
    StackConfig,
    create_topics,
    provision_database,
    service_env,
    service_password,
)
from careroute_platform.contracts import topics as contract_topics

PY = sys.executable

# Consumer groups and the topics each subscribes to (from the services' consumer modules).
CONSUMER_GROUPS = {
    "intake": ("intake.referral-access", ["careroute.referral"]),
    "referral": ("referral", ["careroute.case", "careroute.consent"]),
    "notify": ("notify", ["careroute.referral", "careroute.case", "careroute.consent", "careroute.anomaly"]),
    "audit": ("audit-log", sorted(contract_topics())),
}

# Short retry schedules so that a fault heals within the run (documented in docs/chaos.md). Everything
# else is the embedded stack's configuration, unchanged.
CHAOS_ENV = {
    "notify": {
        "NOTIFY_EMAIL_RETRY_BASE_SECONDS": "1", "NOTIFY_EMAIL_RETRY_MAX_SECONDS": "4",
        "NOTIFY_WEBHOOK_RETRY_BASE_SECONDS": "1", "NOTIFY_WEBHOOK_RETRY_MAX_SECONDS": "4",
        "NOTIFY_DIRECTORY_RETRY_BASE_SECONDS": "1", "NOTIFY_DIRECTORY_RETRY_MAX_SECONDS": "4",
        # a worker killed mid-send leaves its lease; 20 s instead of 120 s lets the run heal sooner
        "NOTIFY_DELIVERY_LEASE_SECONDS": "20",
    },
}


@dataclass
class Proc:
    """One platform process: started, paused, killed and restarted with the same command and env."""

    name: str
    args: list[str]
    env: dict
    log: Path
    ready_port: int | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> Proc:
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.popen = subprocess.Popen(self.args, stdout=out, stderr=out, env=self.env, cwd=ROOT,
                                          start_new_session=True)
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown, no flushing."""
        if self.alive:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(15)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        os.kill(self.popen.pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)

    def restart(self) -> Proc:
        self.stop()
        return self.start()


@dataclass
class ChaosPlatform:
    run_dir: Path
    cfg: StackConfig
    postgres: Postgres | None = None
    broker: Broker | None = None
    procs: dict[str, Proc] = field(default_factory=dict)
    _engines: dict = field(default_factory=dict)
    _kafka: object = None
    _admin: object = None

    # ---------------------------------------------------------------------------------- startup
    @classmethod
    def create(cls) -> ChaosPlatform:
        run_dir = Path(tempfile.mkdtemp(prefix="careroute-chaos-"))
        (run_dir / "logs").mkdir()
        (run_dir / "secrets").mkdir()
        return cls(run_dir, StackConfig.ephemeral(run_dir))

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def maildir(self) -> Path:
        return self.run_dir / "mail"

    def start(self) -> ChaosPlatform:
        cfg = self.cfg
        self.postgres = Postgres(self.run_dir / "pgdata", cfg.pg_port).start()
        self.broker = Broker(cfg.broker_port, self.logs).start()
        create_topics(cfg.bootstrap)
        base_env = dict(os.environ)
        self.add("idp", [PY, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE), "--host", "127.0.0.1",
                         "--port", str(cfg.idp_port), "--keys-file", str(self.run_dir / "secrets" / "idp-keys.json"),
                         "--log-level", "warning"], base_env, port=cfg.idp_port).start()
        self.add("smtp-sink", [PY, "-m", "careroute_devstack.smtp_sink", "--port", str(cfg.smtp_port),
                               "--maildir", str(self.maildir)], base_env, port=cfg.smtp_port).start()
        wait_for_port(cfg.idp_port, 60, self.procs["idp"].popen)
        wait_for_port(cfg.smtp_port, 30, self.procs["smtp-sink"].popen)

        envs = {}
        migrations = []
        for service in SERVICES:
            db_url, migration_url = provision_database(self.postgres, service,
                                                       service_password(service, self.run_dir))
            envs[service] = {**base_env, **service_env(service, cfg, db_url, migration_url),
                             **CHAOS_ENV.get(service, {})}
            with open(self.logs / f"{service}-migrate.log", "ab") as out:
                migrations.append((service, subprocess.Popen([PY, "-m", service, "migrate"], env=envs[service],
                                                             cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)))
        for service, proc in migrations:
            if proc.wait(180) != 0:
                raise RuntimeError(f"{service} migrate failed; see {self.logs / (service + '-migrate.log')}")
        for service in SERVICES:
            for component in ("api", "relay", "worker"):
                env = dict(envs[service])
                port = cfg.service_ports[service]
                if component != "api":
                    port = cfg.metrics_ports[f"{service}-{component}"]
                    env[f"{service.upper()}_METRICS_PORT"] = str(port)
                self.add(f"{service}-{component}", [PY, "-m", service, component], env, port=port).start()
        for service in SERVICES:
            self.wait_http(cfg.service_url(service) + "/readyz", 180)
            for component in ("relay", "worker"):
                self.wait_http(self.metrics_url(f"{service}-{component}").replace("/metrics", "/livez"), 120)
        return self

    def add(self, name: str, args: list[str], env: dict, port: int | None = None) -> Proc:
        proc = Proc(name, args, env, self.logs / f"{name}.log", port)
        self.procs[name] = proc
        return proc

    def wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p.name for p in self.procs.values() if p.popen is not None and not p.alive]
            if dead:
                raise RuntimeError(f"platform process(es) exited: {dead}; logs in {self.logs}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{url} not ready after {timeout}s")

    def restart(self, name: str, *, wait: bool = True) -> None:
        proc = self.procs[name]
        proc.restart()
        if wait:
            self.wait_started(name)

    def start_again(self, name: str) -> None:
        self.procs[name].start()
        self.wait_started(name)

    def wait_started(self, name: str, timeout: float = 90) -> None:
        proc = self.procs[name]
        if name.endswith("-api"):
            self.wait_http(f"http://127.0.0.1:{proc.ready_port}/readyz", timeout)
        elif name.endswith(("-relay", "-worker")):
            self.wait_http(f"http://127.0.0.1:{proc.ready_port}/livez", timeout)
        else:
            wait_for_port(proc.ready_port, timeout, proc.popen)

    def liveness(self) -> dict[str, str]:
        """Every process: running, and for services answering /livez 200 (relay and worker processes
        answer 503 when one of their threads died, e.g. a consumer loop that raised)."""
        out = {}
        for name, proc in self.procs.items():
            if not proc.alive:
                out[name] = f"exited ({proc.popen.returncode})"
                continue
            if name.endswith(("-api", "-relay", "-worker")):
                try:
                    r = httpx.get(f"http://127.0.0.1:{proc.ready_port}/livez", timeout=3)
                    out[name] = "ok" if r.status_code == 200 else f"livez {r.status_code}"
                except httpx.HTTPError as exc:
                    out[name] = f"livez {type(exc).__name__}"
            else:
                out[name] = "ok"
        return out

    # ---------------------------------------------------------------------------------- faults
    def pause_broker(self) -> None:
        os.kill(self.broker.proc.pid, signal.SIGSTOP)

    def resume_broker(self) -> None:
        os.kill(self.broker.proc.pid, signal.SIGCONT)

    def stop_postgres(self) -> float:
        """Fast shutdown (SIGINT): open transactions are rolled back, clients disconnected."""
        for engine in self._engines.values():
            engine.dispose()
        started = time.monotonic()
        self.postgres.proc.send_signal(signal.SIGINT)
        self.postgres.proc.wait(60)
        return time.monotonic() - started

    def start_postgres(self) -> float:
        started = time.monotonic()
        self.postgres.start()  # same data directory, same port
        return time.monotonic() - started

    # ---------------------------------------------------------------------------------- reading
    def admin_engine(self, service: str):
        from sqlalchemy import create_engine

        if service not in self._engines:
            self._engines[service] = create_engine(
                f"postgresql+psycopg://postgres@127.0.0.1:{self.cfg.pg_port}/{service}",
                pool_size=2, max_overflow=4, pool_pre_ping=True)
        return self._engines[service]

    def query(self, service: str, sql: str, **params) -> list:
        from sqlalchemy import text

        with self.admin_engine(service).connect() as conn:
            return conn.execute(text(sql), params).all()

    def scalar(self, service: str, sql: str, **params):
        rows = self.query(service, sql, **params)
        return rows[0][0] if rows else None

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.cfg.metrics_ports[name]}/metrics"

    def metric(self, name: str, metric: str) -> float | None:
        """Sum of a metric's samples in one relay/worker process (None if it does not answer)."""
        try:
            body = httpx.get(self.metrics_url(name), timeout=2).text
        except httpx.HTTPError:
            return None
        total = 0.0
        for line in body.splitlines():
            if line.startswith(metric) and (line[len(metric)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kafka(self):
        from kafka import KafkaConsumer

        if self._kafka is None:
            self._kafka = KafkaConsumer(bootstrap_servers=self.cfg.bootstrap, enable_auto_commit=False,
                                        request_timeout_ms=20_000)
        return self._kafka

    def admin(self):
        from kafka.admin import KafkaAdminClient

        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.cfg.bootstrap, request_timeout_ms=20_000)
        return self._admin

    def partitions(self, topics: list[str]) -> list:
        from kafka import TopicPartition

        consumer = self.kafka()
        return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]

    def consumer_lag(self) -> dict[str, int]:
        """Per group: records on its topics not yet committed (end offset - committed offset)."""
        consumer = self.kafka()
        lags = {}
        for group, topics in CONSUMER_GROUPS.values():
            parts = self.partitions(topics)
            ends = consumer.end_offsets(parts)
            committed = self.admin().list_group_offsets({group: None}).get(group, {})
            lag = 0
            for tp in parts:
                done = committed.get(tp)
                lag += max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
            lags[group] = lag
        return lags

    def metrics_lag(self) -> dict[str, float | None]:
        """What the workers themselves report (`consumer_lag`, measured every few seconds)."""
        return {f"{s}-worker": self.metric(f"{s}-worker", "consumer_lag") for s in SERVICES}

    def topic_records(self, topics: list[str]) -> list:
        """Every record on `topics` from the beginning (manual assignment, no group)."""
        consumer = self.kafka()
        parts = self.partitions(topics)
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        records = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
                records.extend(batch)
        consumer.assign([])
        return records

    def event_ids_on(self, topics: list[str]) -> Counter:
        ids: Counter = Counter()
        for record in self.topic_records(topics):
            headers = dict(record.headers or [])
            ce_id = headers.get("ce_id")
            ids[ce_id.decode() if ce_id else f"<no-id {record.topic}:{record.offset}>"] += 1
        return ids

    # ---------------------------------------------------------------------------------- teardown
    def stop(self) -> None:
        try:
            self.resume_broker()
        except (OSError, AttributeError):
            pass
        for name, proc in reversed(list(self.procs.items())):
            proc.stop()
        for engine in self._engines.values():
            engine.dispose()
        for client in (self._kafka, self._admin):
            with contextlib.suppress(Exception):  # closing a client of a broker about to stop
                if client is not None:
                    client.close()
        if self.broker:
            self.broker.stop()
        if self.postgres and self.postgres.proc and self.postgres.proc.poll() is None:
            self.postgres.proc.send_signal(signal.SIGINT)
            try:
                self.postgres.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.postgres.proc.kill()


__all__ = ["CONSUMER_GROUPS", "SERVICES", "ChaosPlatform", "Proc", "free_port"]
