"""The log is append-only by construction: the service's runtime role (the URL in its settings)
cannot UPDATE, DELETE or TRUNCATE the log tables, and even the owner's attempts hit triggers."""
from __future__ import annotations

import psycopg
import pytest
from audit.adapters.keys import load_keys
from audit.adapters.orm import tree_head
from audit.domain.entry import build_entry
from audit.service_layer.checkpoints import issue_checkpoint
from audit.service_layer.log import append_entries
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .conftest import case_read

pytestmark = pytest.mark.integration
LOG_TABLES = ("entries", "tree_nodes", "checkpoints", "checkpoint_cosignatures")
CHANGES = {
    "entries": ["update entries set outcome = 'allowed'", "delete from entries", "truncate entries"],
    "tree_nodes": ["update tree_nodes set hash = hash", "delete from tree_nodes", "truncate tree_nodes"],
    "checkpoints": ["update checkpoints set note = note", "delete from checkpoints", "truncate checkpoints"],
    "checkpoint_cosignatures": ["update checkpoint_cosignatures set line = line",
                                "delete from checkpoint_cosignatures", "truncate checkpoint_cosignatures"],
}


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def populated(isolated):
    """Two entries and a checkpoint, appended through the service layer as the runtime role."""
    rt = isolated.runtime
    items = [build_entry(event_id=e.id, event_type=e.type, source=e.source, time=e.time, key=e.key,
                         traceparent=e.traceparent, data=e.data) for e in (case_read(), case_read())]
    with rt.uow() as uow:
        append_entries(uow, items, consumer_group="test", processed_table=rt.processed_table)
        uow.commit()
    with rt.session_factory() as session, session.begin():
        assert issue_checkpoint(session, load_keys(isolated.settings), interval_seconds=0, every_entries=1)
    return isolated


def attempt(url: str, sql: str) -> psycopg.Error:
    with psycopg.connect(dsn(url)) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)
        conn.rollback()
    return caught.value


@pytest.mark.parametrize("table", LOG_TABLES)
def test_the_runtime_role_cannot_update_delete_or_truncate(populated, table):
    url = populated.settings.database_url
    assert make_url(url).username != make_url(populated.owner_url).username
    for sql in CHANGES[table]:
        error = attempt(url, sql)
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), sql


@pytest.mark.parametrize("table", LOG_TABLES)
def test_even_the_owner_hits_the_append_only_trigger(populated, table):
    for sql in CHANGES[table]:
        error = attempt(populated.owner_url, sql)
        assert isinstance(error, psycopg.errors.RaiseException), sql
        assert "append-only" in str(error)


def test_the_runtime_role_can_read_and_append_but_the_head_only_grows(populated):
    url = populated.settings.database_url
    with psycopg.connect(dsn(url)) as conn:
        assert conn.execute("select count(*) from entries").fetchone()[0] == 2
        assert conn.execute("select size from tree_head").fetchone()[0] == 2
    for sql in ("update tree_head set size = 1", "update tree_head set size = 5"):
        error = attempt(url, sql)
        assert isinstance(error, psycopg.errors.RaiseException), sql
    for sql in ("delete from tree_head", "truncate tree_head"):
        assert isinstance(attempt(url, sql), psycopg.errors.InsufficientPrivilege), sql
    for sql in ("update tree_head set size = 0", "delete from tree_head", "truncate tree_head"):
        assert isinstance(attempt(populated.owner_url, sql), psycopg.errors.RaiseException), sql
    with populated.runtime.engine.connect() as conn:
        assert conn.execute(select(tree_head.c.size)).scalar_one() == 2


def test_the_runtime_role_owns_nothing(populated):
    with psycopg.connect(dsn(populated.owner_url)) as conn:
        owners = dict(conn.execute(
            "select tablename, tableowner from pg_tables where schemaname = 'public'").fetchall())
    runtime_user = make_url(populated.settings.database_url).username
    owner_user = make_url(populated.owner_url).username
    assert set(LOG_TABLES) <= set(owners)
    assert runtime_user not in owners.values()
    assert {owners[t] for t in (*LOG_TABLES, "tree_head")} == {owner_user}


def test_the_service_runtime_url_is_the_restricted_role(audit):
    """The harness's own database: the URL the running service uses is refused too."""
    url = audit.settings.database_url
    assert make_url(url).username == "audit"
    for table in LOG_TABLES:
        for sql in CHANGES[table]:
            assert isinstance(attempt(url, sql), psycopg.errors.InsufficientPrivilege), sql
    with audit.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tree_head)).scalar_one() == 1
