"""The audit service's tables. The platform tables (outbox, processed events, idempotency keys)
live in the same metadata so that one Alembic history covers the whole schema.

The log itself is four tables that only ever grow (migration 0002 revokes UPDATE, DELETE and
TRUNCATE from every role but the owner and adds triggers that refuse them even to the owner):

- `entries`: one row per log entry - its index, event id (unique), the RFC 8785 canonical JSON
  text that is hashed, the leaf hash, and search columns derived from the entry;
- `tree_nodes`: the hash of every complete (perfect) Merkle subtree, keyed (level, index);
- `checkpoints`: every signed checkpoint issued, by tree size;
- `checkpoint_cosignatures`: signature lines other organisations added to a checkpoint.

`tree_head` is a single row holding the committed size; its trigger lets it only grow, and its
row lock serialises appends across consumer replicas. `anomalies` records which anomaly fired for
which subject and window (the idempotency key of the anomaly rules).
"""
from careroute_platform.runtime import platform_tables
from sqlalchemy import (
                        BigInteger,
                        CheckConstraint,
                        Column,
                        DateTime,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        SmallInteger,
                        String,
                        Table,
                        Text,
                        func,
)

metadata = MetaData()
platform = platform_tables(metadata)

entries = Table(
    "entries", metadata,
    Column("index", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("event_type", String(160), nullable=False),
    Column("entry", Text, nullable=False),  # the exact bytes hashed (RFC 8785), as UTF-8 text
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("logged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_subject", String(64)),
    Column("actor_organisation", String(200)),
    Column("action", String(120), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(200)),
    Column("case_id", String(200)),
    Column("outcome", String(16), nullable=False),
    Column("source_service", String(32)),
    CheckConstraint("octet_length(leaf_hash) = 32", name="entries_leaf_hash_length"),
    CheckConstraint('"index" >= 0', name="entries_index_non_negative"),
    Index("entries_subject_time", "actor_subject", "occurred_at"),
    Index("entries_organisation_time", "actor_organisation", "occurred_at"),
    Index("entries_resource", "resource_type", "resource_id"),
    Index("entries_case", "case_id"),
    Index("entries_time", "occurred_at"),
)

tree_nodes = Table(
    "tree_nodes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("octet_length(hash) = 32", name="tree_nodes_hash_length"),
    CheckConstraint('level >= 0 and level < 64 and "index" >= 0', name="tree_nodes_key_range"),
)

tree_head = Table(
    "tree_head", metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="tree_head_single_row"),
    CheckConstraint("size >= 0", name="tree_head_size_non_negative"),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the C2SP signed note as issued (log signature only)
    Column("key_name", String(200), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("octet_length(root) = 32", name="checkpoints_root_length"),
    Index("checkpoints_issued_at", "issued_at"),
)

checkpoint_cosignatures = Table(
    "checkpoint_cosignatures", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("key_name", String(200), primary_key=True),
    Column("key_id", String(8), primary_key=True),
    Column("line", Text, nullable=False),  # "— <name> <base64>" without the newline
    Column("submitted_by", String(64)),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

anomalies = Table(
    "anomalies", metadata,
    Column("rule", String(40), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

LOG_TABLES = ("entries", "tree_nodes", "checkpoints", "checkpoint_cosignatures")
