"""The embedded database's files and what a failing statement may write to the log."""

import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lanet.server.db import make_engine
from lanet.server.migrate import upgrade


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_sqlite_database_is_private_to_the_server(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "var"
    url = f"sqlite:///{data / 'lanet.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clients (id, name, code, created_at) "
                "VALUES ('c', 'x', 'ABCD', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    assert _mode(data) == 0o700
    assert _mode(data / "lanet.db") == 0o600
    for companion in (data / "lanet.db-wal", data / "lanet.db-shm"):
        if companion.exists():
            assert _mode(companion) == 0o600, companion


def test_an_existing_database_file_is_made_private_again(tmp_path: Path) -> None:
    path = tmp_path / "lanet.db"
    path.touch(mode=0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_a_failing_statement_does_not_carry_its_values_into_the_log(database_url: str) -> None:
    engine = make_engine(database_url)
    secret_text = "salida-del-script-con-un-secreto"
    try:
        with pytest.raises(IntegrityError) as info, engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clients (id, name, code, created_at) "
                    "VALUES (:id, :name, 'WXYZ', CURRENT_TIMESTAMP)"
                ),
                [{"id": "dup", "name": secret_text}, {"id": "dup", "name": secret_text}],
            )
    finally:
        engine.dispose()
    assert secret_text not in str(info.value)
    assert "hidden due to hide_parameters" in str(info.value)
