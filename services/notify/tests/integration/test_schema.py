"""The Alembic history builds exactly the schema the code declares."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from notify.adapters.orm import metadata

pytestmark = pytest.mark.integration


def test_migrations_match_the_declared_tables(notify):
    with notify.runtime.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
