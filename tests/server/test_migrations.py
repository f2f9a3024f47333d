"""The Alembic history builds exactly the schema the models declare, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from lanet.server.migrate import include_name
from lanet.server.models import Base


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include_name}
            )
            assert context.get_current_revision() is not None
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
