"""The intake service's tables. The platform tables (outbox, processed events, idempotency keys)
live in the same metadata so that one Alembic history covers the whole schema."""
from sqlalchemy import MetaData

from careroute_platform.runtime import platform_tables

metadata = MetaData()
platform = platform_tables(metadata)
