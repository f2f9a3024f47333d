"""Engine and session handling, the same for SQLite and PostgreSQL.

SQLite gets WAL, a busy timeout and enforced foreign keys on every connection, which is what lets
several gunicorn workers share one file safely.
"""

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, create_engine, event, func, or_, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def prepare_sqlite_file(url: str) -> None:
    """The embedded database holds every credential digest and ticket: its folder is made 0700 and
    the file (and its WAL and shared-memory companions) 0600, like ``secret.key``, before SQLite
    creates them with the process's umask."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return
    path = Path(url[len("sqlite:///") :].split("?", 1)[0])
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)  # workers may race to make it
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name == path:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600))
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(name, 0o600)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine with the per-dialect settings we rely on.

    ``hide_parameters``: a failing statement's message never carries its values (command output,
    ticket text, digests) into the log.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool if ":memory:" not in url else None,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily in its own way; let SQLAlchemy emit BEGIN.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
            # one failing with "database is locked" when it upgrades a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **kwargs)


def contains_text(text_: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring search of ``text_`` in any of ``columns``, the same on both
    databases (``lower() LIKE``: SQLite's ``ILIKE`` does not exist). A NULL column matches nothing."""
    pattern = f"%{text_.lower()}%"
    return or_(*(func.lower(column).like(pattern) for column in columns))


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """The engine plus a session factory; one per app.

    On PostgreSQL a second, small pool serves the heartbeat's hot path: its connections run in
    autocommit (the common heartbeat is one statement, so BEGIN/COMMIT would double its round trips),
    skip the pre-ping round trip, and may commit asynchronously (``synchronous_commit = off``).
    Everything durable (registrations, tickets, command results, audit) uses ``engine``.
    """

    def __init__(self, url: str, *, async_telemetry: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.telemetry = self.engine
        if self.engine.dialect.name == "postgresql":
            options = {"options": "-c synchronous_commit=off"} if async_telemetry else {}
            self.telemetry = create_engine(
                url,
                pool_size=2,
                max_overflow=4,
                connect_args=options,
                isolation_level="AUTOCOMMIT",
                hide_parameters=True,
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
        if self.telemetry is not self.engine:
            self.telemetry.dispose()
