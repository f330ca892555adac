"""The append-only audit log: entries, Merkle tree nodes, tree head, checkpoints, cosignatures,
anomalies; privileges and triggers that make the log append-only.

Run by the owner role (audit_owner). The runtime role received SELECT, INSERT, UPDATE, DELETE by
default privileges; here UPDATE, DELETE and TRUNCATE on the log tables are revoked from every role
but the owner (whatever the runtime role is called in a deployment), and triggers refuse UPDATE,
DELETE and TRUNCATE even to the owner. (An owner can still drop a trigger: that is the limit of
what a database can promise about itself, and it is why the log is a Merkle tree whose signed
checkpoints auditors keep outside it.)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOG_TABLES = ("entries", "tree_nodes", "checkpoints", "checkpoint_cosignatures")


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(128), nullable=False, unique=True),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_subject", sa.String(64)),
        sa.Column("actor_organisation", sa.String(200)),
        sa.Column("action", sa.String(120), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(200)),
        sa.Column("case_id", sa.String(200)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("source_service", sa.String(32)),
        sa.CheckConstraint("octet_length(leaf_hash) = 32", name="entries_leaf_hash_length"),
        sa.CheckConstraint('"index" >= 0', name="entries_index_non_negative"),
    )
    op.create_index("entries_subject_time", "entries", ["actor_subject", "occurred_at"])
    op.create_index("entries_organisation_time", "entries", ["actor_organisation", "occurred_at"])
    op.create_index("entries_resource", "entries", ["resource_type", "resource_id"])
    op.create_index("entries_case", "entries", ["case_id"])
    op.create_index("entries_time", "entries", ["occurred_at"])

    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("octet_length(hash) = 32", name="tree_nodes_hash_length"),
        sa.CheckConstraint('level >= 0 and level < 64 and "index" >= 0', name="tree_nodes_key_range"),
    )
    op.create_table(
        "tree_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("id = 1", name="tree_head_single_row"),
        sa.CheckConstraint("size >= 0", name="tree_head_size_non_negative"),
    )
    op.execute("insert into tree_head (id, size) values (1, 0)")
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("octet_length(root) = 32", name="checkpoints_root_length"),
    )
    op.create_index("checkpoints_issued_at", "checkpoints", ["issued_at"])
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key_name", sa.String(200), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.String(64)),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "anomalies",
        sa.Column("rule", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )

    # -- triggers: refused even to the owner ----------------------------------------------------
    op.execute("""
        create function audit_log_refuse_change() returns trigger language plpgsql as $$
        begin
            raise exception 'the audit log is append-only: % on % refused', tg_op, tg_table_name
                using errcode = 'raise_exception', hint = 'entries, tree nodes and checkpoints are never changed';
        end $$""")
    for table in LOG_TABLES:
        op.execute(f"""
            create trigger {table}_append_only before update or delete or truncate on {table}
            for each statement execute function audit_log_refuse_change()""")
    op.execute("""
        create function audit_tree_head_only_grows() returns trigger language plpgsql as $$
        begin
            if new.id <> old.id or new.size < old.size then
                raise exception 'the audit tree head only grows (% -> %)', old.size, new.size
                    using errcode = 'raise_exception';
            end if;
            if new.size > old.size and (
                   not exists (select 1 from tree_nodes where level = 0 and "index" = new.size - 1)
                   or not exists (select 1 from entries where "index" = new.size - 1)
                   or exists (select 1 from entries where "index" = new.size)) then
                raise exception 'tree head size % does not match the stored entries', new.size
                    using errcode = 'raise_exception';
            end if;
            return new;
        end $$""")
    op.execute("""
        create trigger tree_head_only_grows before update on tree_head
        for each row execute function audit_tree_head_only_grows()""")
    op.execute("""
        create trigger tree_head_append_only before delete or truncate on tree_head
        for each statement execute function audit_log_refuse_change()""")

    # -- privileges: the runtime role may read and append, never change ---------------------------
    tables = ", ".join(LOG_TABLES)
    op.execute(f"revoke update, delete, truncate on {tables} from public")
    op.execute("revoke delete, truncate on tree_head from public")
    op.execute(f"""
        do $$
        declare r record;
        begin
            for r in
                select distinct c.relname as tbl, a.grantee::regrole::text as grantee, a.privilege_type as priv
                from pg_class c
                join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
                cross join lateral aclexplode(c.relacl) a
                where c.relname in ({", ".join(f"'{t}'" for t in (*LOG_TABLES, "tree_head"))})
                  and a.grantee <> 0 and a.grantee <> c.relowner
                  and (a.privilege_type in ('DELETE', 'TRUNCATE')
                       or (a.privilege_type = 'UPDATE' and c.relname <> 'tree_head'))
            loop
                execute format('revoke %s on %I from %s', r.priv, r.tbl, r.grantee);
            end loop;
        end $$""")


def downgrade() -> None:
    raise RuntimeError("the audit log is append-only and is never downgraded")
