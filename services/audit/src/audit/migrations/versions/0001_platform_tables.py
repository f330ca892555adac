"""Platform tables: outbox, processed events, idempotency keys.

Revision ID: 0001
"""
from alembic import op
from careroute_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op.get_bind())


def downgrade() -> None:
    for table in ("idempotency_keys", "processed_events", "outbox"):
        op.drop_table(table)
