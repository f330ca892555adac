"""Checkpoints against the real database: issued only when the log grew, signed by the current key
(rotation keeps old checkpoints verifiable), never issued on top of a tampered tree."""
from __future__ import annotations

import psycopg
import pytest
from audit.adapters.keys import load_keys
from audit.adapters.orm import checkpoints
from audit.domain.checkpoint import generate_signer
from audit.domain.entry import build_entry
from audit.entrypoints.workers import Checkpointer
from audit.service_layer import proofs
from audit.service_layer.checkpoints import IntegrityFailure
from audit.service_layer.log import append_entries
from audit.verifier import ConsistencyProof, verify_checkpoint, verify_checkpoint_consistency, verify_export
from sqlalchemy import select
from sqlalchemy.engine import make_url

from .conftest import case_read

pytestmark = pytest.mark.integration
ORIGIN = "careroute.iom.int/audit"


def append(iso, n: int) -> None:
    rt = iso.runtime
    items = []
    for _ in range(n):
        e = case_read()
        items.append(build_entry(event_id=e.id, event_type=e.type, source=e.source, time=e.time, key=e.key,
                                 traceparent=e.traceparent, data=e.data))
    with rt.uow() as uow:
        append_entries(uow, items, consumer_group="test", processed_table=rt.processed_table)
        uow.commit()


def checkpointer(iso, **settings) -> Checkpointer:
    s = iso.settings.model_copy(update={"checkpoint_interval_seconds": 3600, "checkpoint_every_entries": 1000,
                                        **settings})
    runtime = type(iso.runtime)(s, iso.runtime.metadata)
    return Checkpointer(runtime, load_keys(s))


def export_lines(iso, size: int) -> list[str]:
    with iso.runtime.session_factory() as session:
        return [proofs.jsonl_line(r.index, r.entry, r.leaf_hash) for r in proofs.export_rows(session, {}, size)]


def owner(iso):
    return psycopg.connect(make_url(iso.owner_url).set(drivername="postgresql").render_as_string(hide_password=False))


def test_checkpoints_only_when_the_log_grew_and_when_due(isolated):
    cp = checkpointer(isolated)
    assert cp.tick(force=True) is None                 # empty log: nothing to sign
    append(isolated, 3)
    first = cp.tick()
    assert first is not None and first.size == 3       # the first checkpoint is always due
    append(isolated, 2)
    assert cp.tick() is None                           # grown, but neither the interval nor N entries passed
    assert cp.tick(force=True).size == 5
    assert cp.tick(force=True) is None                 # no growth, no checkpoint
    eager = checkpointer(isolated, checkpoint_every_entries=2)
    append(isolated, 2)
    assert eager.tick().size == 7                      # N entries waiting make it due at once
    with isolated.runtime.engine.connect() as conn:
        assert conn.execute(select(checkpoints.c.size).order_by(checkpoints.c.size)).scalars().all() == [3, 5, 7]


def test_key_rotation_keeps_old_checkpoints_verifiable(isolated):
    old = load_keys(isolated.settings).current.key_string()
    append(isolated, 4)
    before = checkpointer(isolated).tick(force=True)
    new_skey, new_vkey = generate_signer(ORIGIN)
    rotated = checkpointer(isolated, signer_key=new_skey, signer_key_file=None, previous_verifier_keys=[old])
    append(isolated, 3)
    after = rotated.tick(force=True)
    assert verify_checkpoint(before.note, [old]).ok and not verify_checkpoint(after.note, [old]).ok
    assert verify_checkpoint(after.note, [new_vkey]).ok
    with isolated.runtime.session_factory() as session:
        proof = proofs.consistency(session, size1=before.size, size2=after.size)
    report = verify_checkpoint_consistency(before.note, after.note, [new_vkey, old], ConsistencyProof.from_json(proof))
    assert report.ok, report.problems
    assert [k["status"] for k in rotated.keys.describe()["keys"]] == ["current", "previous"]


def test_a_rewritten_node_stops_the_signer_and_an_edited_entry_fails_the_export(isolated):
    append(isolated, 5)
    cp = checkpointer(isolated)
    first = cp.tick(force=True)
    keys = [load_keys(isolated.settings).current]
    assert verify_export(export_lines(isolated, 5), first.note, keys).ok
    # A DBA with the owner role drops the guard and rewrites history.
    with owner(isolated) as conn:
        conn.execute("alter table tree_nodes disable trigger tree_nodes_append_only")
        # (re-hashing an entry's whole path up to a stored subtree: here the subtree of leaves 0-3)
        conn.execute("update tree_nodes set hash = sha256(hash) where level = 2 and \"index\" = 0")
        conn.execute("alter table tree_nodes enable trigger tree_nodes_append_only")
        conn.execute("alter table entries disable trigger entries_append_only")
        conn.execute("update entries set entry = replace(entry, '\"allowed\"', '\"denied\"') where \"index\" = 2")
        conn.execute("alter table entries enable trigger entries_append_only")
    append(isolated, 2)
    with pytest.raises(IntegrityFailure):
        cp.tick(force=True)
    with isolated.runtime.engine.connect() as conn:
        assert conn.execute(select(checkpoints.c.size)).scalars().all() == [5]
    report = verify_export(export_lines(isolated, 5), first.note, keys)
    assert "leaf-hash-mismatch" in report.codes()
