"""Alembic per service. A service's `migrations/env.py` calls `run_env(metadata)`; its first
revision calls `create_platform_tables()` for the outbox, processed-events and idempotency tables."""
from __future__ import annotations

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool


def run_env(metadata: MetaData) -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()


def upgrade(url: str, script_location: str, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def create_platform_tables(bind) -> None:
    from .runtime import platform_tables

    for table in platform_tables(MetaData()).values():
        table.create(bind)
