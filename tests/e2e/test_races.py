"""Requests that race each other, sent in parallel to a real server with several workers, on both
databases. Before, on PostgreSQL: 15 parallel wrong passwords got 11 or 12 password checks before
the five-failure lockout, 8 parallel ratings of one ticket recorded 3, and concurrent identical
command results recorded 3 as new."""

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import LiveServer, start_server
from tests.server.helpers import REGISTER, bearer, register_body

pytestmark = pytest.mark.e2e
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PARALLEL = 16


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", database_url, workers=4)
    yield live
    live.stop()


def _rows(server: LiveServer, sql: str) -> list[tuple[Any, ...]]:
    url = server.env["LANET_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return conn.execute(sql).fetchall()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _parallel(count: int, call: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def _agent(server: LiveServer) -> dict[str, Any]:
    token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
    reply = requests.post(server.url + REGISTER, json=register_body(token), timeout=30)
    assert reply.status_code == 201
    data: dict[str, Any] = reply.json()["data"]
    return data


def test_parallel_wrong_passwords_get_exactly_five_checks_before_the_lockout(server: LiveServer) -> None:
    created = server.cli("users", "create", "--email", "ana@cafe.mx", "--role", "technician", "--generate")
    assert created.returncode == 0, created.stderr

    def attempt(_n: int) -> int:
        with requests.Session() as browser:
            page = browser.get(server.url + "/portal/login", timeout=60)
            token = _CSRF.search(page.text)
            assert token is not None
            reply = browser.post(
                server.url + "/portal/login",
                data={"email": "ana@cafe.mx", "password": "equivocada-123", "csrf_token": token.group(1)},
                timeout=120,
                allow_redirects=False,
            )
            return reply.status_code

    statuses = _parallel(15, attempt)
    assert set(statuses) <= {401, 403} and statuses.count(403) >= 1
    outcomes = Counter(
        row[0] for row in _rows(server, "SELECT outcome FROM audit_log WHERE action = 'portal.login'")
    )
    # Four failures, the fifth locks, the rest meet the lock without a password check.
    assert outcomes["bad_password"] == 4 and outcomes["locked_now"] == 1
    assert outcomes["locked"] == 10


def test_parallel_ratings_of_one_ticket_record_one(server: LiveServer) -> None:
    agent = _agent(server)
    made = requests.post(
        server.url + "/api/tickets/create-from-agent",
        json={
            "description": "No imprime",
            "category": "impresora",
            "asset_id": agent["asset_id"],
            "client_id": agent["client_id"],
            "site_id": agent["site_id"],
        },
        headers=bearer(agent["agent_token"]),
        timeout=30,
    )
    number = made.json()["data"]["number"]
    assert server.cli("tickets", "status", number, "resuelto").returncode == 0
    statuses = _parallel(
        PARALLEL,
        lambda n: (
            requests.post(
                f"{server.url}/api/tickets/{number}/rate",
                json={"rating": 1 + n % 5},
                headers=bearer(agent["agent_token"]),
                timeout=60,
            ).status_code
        ),
    )
    assert sorted(statuses) == [200] + [409] * (PARALLEL - 1)
    ratings = _rows(server, "SELECT count(*) FROM ticket_events WHERE field = 'rating'")
    assert ratings == [(1,)]


def test_parallel_identical_command_results_record_one(server: LiveServer) -> None:
    agent = _agent(server)
    queued = server.cli(
        "commands", "send", "--asset", agent["asset_id"], "--type", "bash", "--inline", "true"
    )
    command_id = queued.stdout.strip().splitlines()[-1]
    answers = _parallel(
        PARALLEL,
        lambda _n: requests.post(
            server.url + "/api/agents/commands/result",
            json={"command_id": command_id, "status": "succeeded", "exit_code": 0},
            headers=bearer(agent["agent_token"]),
            timeout=60,
        ).json()["data"],
    )
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * (PARALLEL - 1)
    recorded = _rows(server, "SELECT count(*) FROM audit_log WHERE action = 'command.result'")
    assert recorded == [(1,)]
