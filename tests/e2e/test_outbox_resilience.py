"""The agent and the server as processes, on PostgreSQL, with items the server once could not take.

Before: a result with a Windows exit code was answered 500 by a 32-bit column, retried forever ahead
of heartbeats, and the agent went silent; switching heartbeats off from the portal silenced a PC for
good.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
FAST = {"heartbeat": {"interval": 5}, "backend": {"retry_delay": 1, "timeout": 5}}


@pytest.fixture
def server(tmp_path: Path, postgres_migrated: str) -> Iterator[LiveServer]:
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_migrated)
    live = start_server(tmp_path / "server", postgres_migrated)
    yield live
    live.stop()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path / "agent")
    yield proc
    if proc.alive():
        proc.kill9()


def _query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _registered(server: LiveServer, agent: AgentProcess) -> str:
    token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
    result = agent.register(server.url, token)
    assert result.returncode == 0, result.stderr
    agent.tune(**FAST)
    return result.stdout.split()[2]


def _beats(server: LiveServer, asset_id: str) -> int:
    rows = _query(
        server.env["LANET_DATABASE_URL"],
        "SELECT count(*) FROM metric_samples WHERE asset_id = :a",
        a=asset_id,
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def test_a_windows_exit_code_and_a_refused_item_never_silence_the_agent(
    server: LiveServer, agent: AgentProcess
) -> None:
    asset_id = _registered(server, agent)
    queued = server.cli("commands", "send", "--asset", asset_id, "--type", "bash", "--inline", "true")
    command_id = queued.stdout.strip().splitlines()[-1]
    # What the agent's executor reports for an access violation on Windows, and a result for a
    # command the server never heard of (answered 404): both waiting in the outbox at start, ahead of
    # every heartbeat.
    paths = AgentPaths.for_home(agent.home)
    store = Store(paths.database, default_protector(paths.key_file, True))
    store.enqueue(
        "command_result", command_id, {"command_id": command_id, "status": "failed", "exit_code": 3221225477}
    )
    store.enqueue("command_result", "no-such-command", {"command_id": "no-such-command", "status": "failed"})
    store.close()
    agent.start()
    url = server.env["LANET_DATABASE_URL"]
    wait_for(
        lambda: _query(url, "SELECT exit_code FROM commands WHERE id = :c", c=command_id) == [(3221225477,)],
        30,
        "the Windows exit code stored",
    )
    wait_for(lambda: _beats(server, asset_id) >= 3, 40, "heartbeats flowing past the refused item")
    reported = wait_for(
        lambda: _query(
            url,
            "SELECT message FROM agent_logs WHERE asset_id = :a AND logger = 'lanet.agent.outbox'",
            a=asset_id,
        ),
        30,
        "the dead letter reported in a heartbeat",
    )
    assert "no-such-command" in str(reported[0][0]) and "404" in str(reported[0][0])
    agent.stop()
    status = agent.status()
    assert status["outbox"] == {}
    assert [(d["id"], d["status"], d["reported"]) for d in status["dead_letters"]] == [
        ("no-such-command", 404, True)
    ]


def test_heartbeats_switched_off_from_the_server_still_check_in_and_come_back(
    server: LiveServer, agent: AgentProcess
) -> None:
    asset_id = _registered(server, agent)
    agent.start()
    wait_for(lambda: _beats(server, asset_id) >= 1, 30, "a first heartbeat")
    assert (
        server.cli(
            "config", "set", "--scope", "asset", "--id", asset_id, "heartbeat_enabled", "false"
        ).returncode
        == 0
    )
    config_file = agent.home / "config" / "agent_config.json"
    wait_for(
        lambda: json.loads(config_file.read_text())["heartbeat"]["enabled"] is False, 30, "heartbeats off"
    )
    url = server.env["LANET_DATABASE_URL"]
    with_metrics = "SELECT count(*) FROM metric_samples WHERE asset_id = :a AND cpu_usage IS NOT NULL"
    before = _query(url, with_metrics, a=asset_id)[0][0]
    # Switched back on: the agent learns it at its next check-in (4 intervals, at least 30 s).
    assert (
        server.cli(
            "config", "set", "--scope", "asset", "--id", asset_id, "heartbeat_enabled", "true"
        ).returncode
        == 0
    )
    wait_for(lambda: json.loads(config_file.read_text())["heartbeat"]["enabled"] is True, 60, "heartbeats on")
    assert _query(url, with_metrics, a=asset_id)[0][0] == before  # nothing but check-ins meanwhile
    wait_for(
        lambda: _query(url, with_metrics, a=asset_id)[0][0] > before, 30, "heartbeats with metrics again"
    )
