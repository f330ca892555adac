"""pytest plugin: the real embedded parts, started once per test run and shared by every test.

- `stack`: PostgreSQL, the Tansu broker (topics created) and the development identity provider,
  on free loopback ports in a temporary directory.
- `stack.token(username)`: a real access token from the identity provider (password grant).
- `service_harness(name)`: a service migrated into its own database, its API as a TestClient and
  its relay and workers running in threads against the real broker.
- `KafkaTap`: reads what is on the topics, for assertions and scans.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .infra import Broker, Postgres, wait_for_port
from .stack import (REALM_FILE, DEV_PASSWORD, StackConfig, create_topics, provision_database, service_definition,
                    service_env, service_password)


@dataclass
class RunningStack:
    cfg: StackConfig
    postgres: Postgres
    broker: Broker
    idp: subprocess.Popen
    _tokens: dict = field(default_factory=dict)
    harnesses: dict = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return f"{self.cfg.issuer}/protocol/openid-connect/token"

    def token(self, username: str, password: str = DEV_PASSWORD, *, fresh: bool = False) -> str:
        cached = self._tokens.get(username)
        if cached and not fresh and cached[1] > time.time() + 30:
            return cached[0]
        r = httpx.post(self.token_url, data={"grant_type": "password", "client_id": "careroute-cli",
                                             "username": username, "password": password, "scope": "openid"})
        r.raise_for_status()
        body = r.json()
        self._tokens[username] = (body["access_token"], time.time() + body.get("expires_in", 300))
        return body["access_token"]

    def client_token(self, client_id: str, secret: str | None = None) -> str:
        r = httpx.post(self.token_url, data={"grant_type": "client_credentials", "client_id": client_id,
                                             "client_secret": secret or f"dev-{client_id}-secret"})
        r.raise_for_status()
        return r.json()["access_token"]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def service_env(self, service: str) -> dict[str, str]:
        db_url, migration_url = provision_database(self.postgres, service,
                                                   service_password(service, self.cfg.run_dir))
        return service_env(service, self.cfg, db_url, migration_url)


def start_idp(cfg: StackConfig) -> subprocess.Popen:
    log = open(cfg.run_dir / "idp.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE),
                             "--host", "127.0.0.1", "--port", str(cfg.idp_port),
                             "--keys-file", str(cfg.run_dir / "secrets" / "idp-keys.json")],
                            stdout=log, stderr=log, start_new_session=True)
    wait_for_port(cfg.idp_port, 30, proc)
    return proc


@pytest.fixture(scope="session")
def stack():
    run_dir = Path(tempfile.mkdtemp(prefix="careroute-test-"))
    cfg = StackConfig.ephemeral(run_dir)
    pg = Postgres(run_dir / "pgdata", cfg.pg_port).start()
    broker = Broker(cfg.broker_port, run_dir).start()
    create_topics(cfg.bootstrap)
    idp = start_idp(cfg)
    running = RunningStack(cfg, pg, broker, idp)
    yield running
    for harness in list(running.harnesses.values()):
        harness.stop()
    idp.terminate()
    broker.stop()
    pg.stop()
    if not os.environ.get("CAREROUTE_KEEP_TEST_RUN"):
        shutil.rmtree(run_dir, ignore_errors=True)


class ServiceHarness:
    """One service running in-process against the real stack."""

    def __init__(self, stack: RunningStack, service: str, *, workers: bool = True) -> None:
        from fastapi.testclient import TestClient
        from careroute_platform.migrations import upgrade
        from careroute_platform.service import migration_url

        self.stack = stack
        self.service = service
        env = stack.service_env(service)
        os.environ.update(env)
        self.definition = service_definition(service)
        self.settings = self.definition.settings_factory()
        upgrade(migration_url(self.settings), self.definition.migrations)
        self.runtime = self.definition.runtime(self.settings)
        self.app = self.definition.create_app(self.runtime)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.workers = [self.runtime.relay(), *(self.definition.workers(self.runtime) if workers else [])]
        self.threads = [threading.Thread(target=w.run, daemon=True, name=f"{service}-{type(w).__name__}")
                        for w in self.workers]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        for t in self.threads:
            t.join(timeout=15)

    def call(self, method: str, path: str, user: str | None = None, **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user:
            headers.update(self.stack.auth(user))
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def service_harness(stack):
    def get(service: str) -> ServiceHarness:
        if service not in stack.harnesses:
            stack.harnesses[service] = ServiceHarness(stack, service)
        return stack.harnesses[service]
    return get


class KafkaTap:
    """Reads records from the start of topics with manual assignment (no consumer group)."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                      auto_offset_reset="earliest", consumer_timeout_ms=1000)

    def read_all(self, topics: list[str]) -> list:
        from kafka import TopicPartition

        parts = []
        for topic in topics:
            for p in self.consumer.partitions_for_topic(topic) or []:
                parts.append(TopicPartition(topic, p))
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        ends = self.consumer.end_offsets(parts)
        records = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(self.consumer.position(tp) < ends[tp] for tp in parts):
            for batch in self.consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records

    def events(self, topics: list[str]) -> list:
        """The CloudEvents on the topics. Records that are not CloudEvents (poison that tests put
        there on purpose) are skipped; `read_all` gives the raw records."""
        from careroute_platform.cloudevents import MalformedEvent, from_kafka

        events = []
        for r in self.read_all(topics):
            try:
                events.append(from_kafka(r.key, r.value, r.headers))
            except MalformedEvent:
                continue
        return events

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def kafka_tap(stack):
    tap = KafkaTap(stack.cfg.bootstrap)
    yield tap
    tap.close()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")
