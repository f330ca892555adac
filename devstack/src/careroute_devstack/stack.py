"""The embedded stack: PostgreSQL (one database and two roles per service), the Tansu broker with
every topic at its partition count, the development identity provider, and every service's API,
outbox relay and workers as separate processes. `make up` runs it; the test suite reuses the parts."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path

import httpx

from .infra import Broker, Postgres, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[3]
REALM_FILE = ROOT / "deploy" / "keycloak" / "careroute-realm.json"
SERVICES = ("intake", "referral", "notify", "audit")
REALM = "careroute"
DEV_PASSWORD = "careroute-dev"


@dataclass
class StackConfig:
    run_dir: Path
    pg_port: int = 55432
    broker_port: int = 19092
    idp_port: int = 8180
    smtp_port: int = 8025
    frontend_port: int = 8080
    service_ports: dict = field(default_factory=lambda: {"intake": 8001, "referral": 8002, "notify": 8003, "audit": 8004})
    # relay and worker processes' /metrics: 9101.. in service order
    metrics_ports: dict = field(default_factory=lambda: {
        f"{s}-{c}": 9101 + 2 * i + j for i, s in enumerate(SERVICES) for j, c in enumerate(("relay", "worker"))})

    @classmethod
    def ephemeral(cls, run_dir: Path) -> "StackConfig":
        """Free ports everywhere: for tests, which must not collide with a running `make up`."""
        return cls(run_dir, pg_port=free_port(), broker_port=free_port(), idp_port=free_port(),
                   smtp_port=free_port(), frontend_port=free_port(),
                   service_ports={s: free_port() for s in SERVICES},
                   metrics_ports={f"{s}-{c}": free_port() for s in SERVICES for c in ("relay", "worker")})

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}/realms/{REALM}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.service_ports[service]}"


def create_topics(bootstrap: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError
    from careroute_platform.contracts import topics

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        wanted = []
        for name, spec in topics().items():
            if name not in existing:
                wanted.append(NewTopic(name, spec["partitions"], 1))
            if f"{name}.dlt" not in existing:
                wanted.append(NewTopic(f"{name}.dlt", 1, 1))
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def service_password(service: str, run_dir: Path) -> str:
    """Development database passwords: random per run directory, kept beside the data."""
    path = run_dir / "secrets" / f"{service}-db-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(12).hex())
        path.chmod(0o600)
    return path.read_text()


def provision_database(pg: Postgres, service: str, password: str) -> tuple[str, str]:
    """An owner role that runs migrations and a runtime role with only the rights granted to it
    (the audit service revokes UPDATE/DELETE/TRUNCATE on its log from the runtime role)."""
    import psycopg

    owner, runtime = f"{service}_owner", service
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres", autocommit=True) as conn:
        for role in (owner, runtime):
            if not conn.execute("select 1 from pg_roles where rolname=%s", (role,)).fetchone():
                conn.execute(f"create role \"{role}\" login password '{password}'")
        if not conn.execute("select 1 from pg_database where datname=%s", (service,)).fetchone():
            conn.execute(f'create database "{service}" owner "{owner}"')
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname={service}", autocommit=True) as conn:
        conn.execute(f'grant connect on database "{service}" to "{runtime}"')
        conn.execute(f'alter schema public owner to "{owner}"')
        conn.execute(f'grant usage on schema public to "{runtime}"')
        conn.execute(f'alter default privileges for role "{owner}" in schema public '
                     f'grant select, insert, update, delete on tables to "{runtime}"')
        conn.execute(f'alter default privileges for role "{owner}" in schema public '
                     f'grant usage, select on sequences to "{runtime}"')
    return pg.url(runtime, password, service), pg.url(owner, password, service)


def service_definition(service: str):
    return import_module(f"{service}.definition").DEFINITION


def service_env(service: str, cfg: StackConfig, db_url: str, migration_url: str) -> dict[str, str]:
    prefix = service.upper() + "_"
    env = {
        "SERVICE_NAME": service,
        "ENVIRONMENT": "development",
        "DATABASE_URL": db_url,
        "MIGRATION_DATABASE_URL": migration_url,
        "KAFKA_BOOTSTRAP_SERVERS": cfg.bootstrap,
        "OIDC_ISSUER": cfg.issuer,
        "OIDC_AUDIENCE": f"careroute-{service}",
        "OIDC_ALLOWED_AZP": json.dumps(["careroute-frontend", "careroute-cli", "msp-hospital-tulcan-system",
                                        "fiscalia-carchi-system"]),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(cfg.service_ports[service]),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{cfg.frontend_port}",
    }
    definition = service_definition(service)
    if definition.dev_env:
        env.update(definition.dev_env(cfg))
    return {prefix + k: v for k, v in env.items()}


# --------------------------------------------------------------------------------------------
# `make up` / `make down` / `make status`
# --------------------------------------------------------------------------------------------
def _spawn(name: str, args: list[str], cfg: StackConfig, env: dict | None = None) -> int:
    logs = cfg.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name}.log", "ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True,
                            env={**os.environ, **(env or {})}, cwd=ROOT)
    pids = _pids(cfg)
    pids[name] = proc.pid
    (cfg.run_dir / "pids.json").write_text(json.dumps(pids, indent=1))
    return proc.pid


def _pids(cfg: StackConfig) -> dict:
    path = cfg.run_dir / "pids.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def up(cfg: StackConfig, services: tuple[str, ...] = SERVICES, frontend: bool = True) -> None:
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    if any(_alive(pid) for pid in _pids(cfg).values()):
        print("Care Route is already running (make down first).")
        return
    (cfg.run_dir / "pids.json").write_text("{}")
    py = sys.executable
    pg = Postgres(cfg.run_dir / "pgdata", cfg.pg_port).start()
    _record(cfg, "postgres", pg.proc.pid)
    broker = Broker(cfg.broker_port, cfg.run_dir / "logs").start()
    _record(cfg, "broker", broker.proc.pid)
    create_topics(cfg.bootstrap)
    _spawn("idp", [py, "-m", "careroute_devstack.idp", "--realm-file", str(REALM_FILE),
                   "--host", "127.0.0.1", "--port", str(cfg.idp_port),
                             "--keys-file", str(cfg.run_dir / "secrets" / "idp-keys.json")], cfg)
    wait_for_port(cfg.idp_port, 30)
    smtp = import_module("careroute_devstack.smtp_sink") if _has("careroute_devstack.smtp_sink") else None
    if smtp:
        _spawn("smtp-sink", [py, "-m", "careroute_devstack.smtp_sink", "--port", str(cfg.smtp_port),
                             "--maildir", str(cfg.run_dir / "mail")], cfg)
    for service in services:
        db_url, migration_url = provision_database(pg, service, service_password(service, cfg.run_dir))
        env = service_env(service, cfg, db_url, migration_url)
        subprocess.run([py, "-m", f"{service}", "migrate"], env={**os.environ, **env}, cwd=ROOT, check=True)
        for component in ("api", "relay", "worker"):
            extra = {}
            if component != "api":  # relay and worker serve /metrics and /livez on their own port
                extra[f"{service.upper()}_METRICS_PORT"] = str(cfg.metrics_ports[f"{service}-{component}"])
            _spawn(f"{service}-{component}", [py, "-m", "careroute_devstack.supervise", "--", py, "-m", service,
                                              component], cfg, {**env, **extra})
    if frontend and _has("careroute_frontend"):
        _spawn("frontend", [py, "-m", "careroute_frontend"], cfg, frontend_env(cfg))
    for service in services:
        _wait_ready(cfg.service_url(service) + "/readyz")
    (cfg.run_dir / "stack.json").write_text(json.dumps({**asdict(cfg), "run_dir": str(cfg.run_dir)}, indent=1))
    print_welcome(cfg, services)


def frontend_env(cfg: StackConfig) -> dict[str, str]:
    env = {f"FRONTEND_{s.upper()}_URL": cfg.service_url(s) for s in SERVICES}
    env.update({"FRONTEND_OIDC_ISSUER": cfg.issuer, "FRONTEND_HTTP_PORT": str(cfg.frontend_port),
                "FRONTEND_PUBLIC_BASE_URL": f"http://127.0.0.1:{cfg.frontend_port}",
                "FRONTEND_OIDC_CLIENT_SECRET": "dev-frontend-secret", "FRONTEND_ENVIRONMENT": "development"})
    return env


def _has(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _record(cfg: StackConfig, name: str, pid: int) -> None:
    pids = _pids(cfg)
    pids[name] = pid
    (cfg.run_dir / "pids.json").write_text(json.dumps(pids, indent=1))


def down(cfg: StackConfig) -> None:
    pids = _pids(cfg)
    # services first, infrastructure last, so consumers stop before the broker goes
    order = sorted(pids, key=lambda n: n in ("postgres", "broker", "idp"))
    for name in order:
        pid = pids[name]
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
        time.sleep(0.2)
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    (cfg.run_dir / "pids.json").write_text("{}")
    print("Care Route stopped.")


def status(cfg: StackConfig) -> None:
    pids = _pids(cfg)
    if not pids:
        print("Care Route is not running (make up).")
    for name, pid in pids.items():
        print(f"{name:20} pid {pid:<8} {'running' if _alive(pid) else 'STOPPED'}")
    for service in SERVICES:
        try:
            r = httpx.get(cfg.service_url(service) + "/readyz", timeout=2)
            print(f"{service:20} {cfg.service_url(service)}  readyz: {r.json().get('status')}")
        except httpx.HTTPError:
            print(f"{service:20} {cfg.service_url(service)}  not answering")


DEMO_USERS = [
    ("caseworker.tulcan", "caseworker, IOM Tulcán"), ("supervisor.tulcan", "supervisor, IOM Tulcán"),
    ("caseworker.quito", "caseworker, Centro AMOR Quito"), ("caseworker.alas", "partner caseworker, Alas de Colibrí"),
    ("provider.alas", "service provider, Alas de Colibrí"), ("provider.msp-tulcan", "service provider, MSP hospital Tulcán"),
    ("official.ministerio", "government official"), ("auditor.oversight", "auditor"),
    ("admin.directory", "directory admin"),
]


def print_welcome(cfg: StackConfig, services) -> None:
    print("\nCare Route is running (embedded stack, development only).\n")
    if _has("careroute_frontend"):
        print(f"  staff frontend      http://127.0.0.1:{cfg.frontend_port}")
    for s in services:
        print(f"  {s:<19} {cfg.service_url(s)}   (OpenAPI: /openapi.json)")
    print(f"  identity provider   {cfg.issuer}")
    print(f"  Kafka broker        {cfg.bootstrap}")
    print(f"  PostgreSQL          127.0.0.1:{cfg.pg_port}")
    print(f"  mail (sink)         {cfg.run_dir / 'mail'}")
    print(f"  logs                {cfg.run_dir / 'logs'}\n")
    print(f"Demo logins (password '{DEV_PASSWORD}'):")
    for user, what in DEMO_USERS:
        print(f"  {user:<22} {what}")
    print("\nmake status · make logs · make seed · make down")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="careroute-dev")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", default=str(ROOT / ".run"))
    args = parser.parse_args(argv)
    cfg = StackConfig(Path(args.run_dir))
    {"up": up, "down": down, "status": status}[args.command](cfg)


if __name__ == "__main__":
    main()
