"""Shared fixtures: databases (SQLite and PostgreSQL), apps, live server processes.

PostgreSQL is required, not optional: when ``LANET_TEST_POSTGRES_URL`` (default: the local ``test``
database) does not answer, every PostgreSQL test fails with the reason instead of being skipped.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from lanet.server.app import create_app
from lanet.server.db import Database
from lanet.server.migrate import upgrade
from lanet.server.models import Base
from lanet.server.services.credentials import Keys
from lanet.server.services.tokens import create_token
from lanet.server.settings import RateLimit, Settings, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
POSTGRES_URL = normalise_database_url(
    os.environ.get("LANET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
ARTIFACTS = Path(os.environ.get("LANET_TEST_ARTIFACTS", ROOT / "artifacts"))


def _postgres_problem() -> str | None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.__class__.__name__}: {exc}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test would cost seconds)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    problem = _postgres_problem()
    if problem:
        pytest.fail(problem)
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(POSTGRES_URL)
    return POSTGRES_URL


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # The day partitions a test's maintenance pass made go too: each test starts with none.
        days = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relname ~ '_p[0-9]{8}$'"
            )
        ).scalars()
        for name in list(days):
            conn.execute(text(f'DROP TABLE "{name}"'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "lanet.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate_postgres(url)
    return url


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "data_dir": data_dir,
        "register_rate": RateLimit(1000, 60),
        "agent_rate": RateLimit(1000, 60),
        "auth_failure_rate": RateLimit(1000, 60),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    application.extensions["lanet"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["lanet"].db
    return database


@pytest.fixture
def new_token(db: Database) -> Callable[..., str]:
    """Create an install token; keyword arguments go to ``create_token``."""

    def make(
        client_name: str = "Cafe Mexico S.A. de C.V.",
        site_name: str = "Oficina Principal CDMX",
        **kwargs: Any,
    ) -> str:
        with db.session() as session:
            return create_token(
                session, Keys(SECRET), client_name=client_name, site_name=site_name, actor="test", **kwargs
            ).token

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A ``lanet-server serve`` process on a free loopback port."""

    def __init__(self, env: dict[str, str], port: int, scheme: str, proc: subprocess.Popen[bytes], log: Path):
        self.env = env
        self.port = port
        self.scheme = scheme
        self.proc = proc
        self.log = log

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lanet.server.cli", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_user(self, email: str, role: str, password: str, client: str | None = None) -> None:
        """``lanet-server users create``, the password typed at its prompt, as an administrator does."""
        args = ["users", "create", "--email", email, "--role", role]
        done = self.cli(*args, *(["--client", client] if client else []), input=password + "\n")
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it issued for loopback: (CA, certificate chain, key) files,
    as an MSP that runs its own CA hands them to the server and to its agents."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))
    return ca_path, cert_path, key_path


def start_server(
    data_dir: Path,
    database_url: str,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    extra_env: dict[str, str] | None = None,
    verify: str | bool = True,
    workers: int = 2,
    port: int | None = None,
) -> LiveServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "LANET_DATA_DIR": str(data_dir),
        "LANET_DATABASE_URL": database_url,
        "LANET_SECRET_KEY": SECRET,
        "LANET_RATE_REGISTER": "1000/60",
        "LANET_RATE_AGENT": "1000/60",
        "LANET_RATE_AUTH_FAILURES": "1000/60",
        **(extra_env or {}),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "lanet.server.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"db upgrade failed: {migrated.stderr[-2000:]}")
    port = port or free_port()
    args = [sys.executable, "-m", "lanet.server.cli", "serve", "--port", str(port), "--workers", str(workers)]
    scheme = "http"
    if certfile and keyfile:
        args += ["--certfile", certfile, "--keyfile", keyfile]
        scheme = "https"
    log = data_dir / f"server-{port}.log"
    handle = log.open("wb")
    proc = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
    server = LiveServer(env, port, scheme, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{server.url}/api/health", timeout=2, verify=verify).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy: {log.read_text()[-2000:]}")


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "server", database_url)
    yield server
    server.stop()


def load_fixture(name: str) -> Any:
    import json

    text_ = (FIXTURES / name).read_text()
    if name.endswith(".jsonc"):
        import re

        text_ = re.sub(r"\s+//[^\n]*", "", text_)
    return json.loads(text_)
