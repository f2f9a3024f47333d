"""Programmatic Alembic: ``lanet-server db upgrade`` and the tests use the same entry."""

from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from lanet.server.db import prepare_sqlite_file

    prepare_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate's filter: the day partitions of a partitioned table (``<table>_p20261202``,
    ``<table>_default``) are made by the maintenance pass, not declared as models."""
    from lanet.server.services.timeseries import is_partition

    return not (type_ == "table" and name is not None and is_partition(name))
