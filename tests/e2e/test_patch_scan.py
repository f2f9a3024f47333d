"""OS update scans end to end: the agent's service starts its scan worker, which asks this
machine's real apt what it would upgrade, and the result reaches the server through the outbox;
a technician's "scan now" brings another one at the agent's next heartbeat."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanet.agent.patches import apt
from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    data = tmp_path / "server"
    live = start_server(data, f"sqlite:///{data / 'lanet.db'}")
    yield live
    live.stop()


def _listed(server: LiveServer, asset_id: str) -> dict[str, object]:
    done = server.cli("patches", "list", "--asset", asset_id, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_the_agent_scans_with_the_real_apt_and_again_when_a_technician_asks(
    server: LiveServer, tmp_path: Path
) -> None:
    agent = AgentProcess(tmp_path / "agent")
    token = server.cli("tokens", "create", "--client", "Cafe", "--site", "CDMX").stdout.split()[-1]
    registered = agent.register(server.url, token)
    assert registered.returncode == 0, registered.stderr
    asset_id = registered.stdout.split()[2]
    agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
    expected = {item["update_id"] for item in apt.scan().items}  # what apt says on this machine
    agent.start()
    try:
        first = wait_for(lambda: (s := _listed(server, asset_id))["last_scan"] and s, 120, "a first scan")
        assert first["last_scan_error"] is None
        assert {u["update_id"] for u in first["updates"]} == expected  # type: ignore[union-attr]
        assert all(u["source"] == "apt" for u in first["updates"])  # type: ignore[union-attr]
        asked = server.cli("patches", "scan", "--asset", asset_id)
        assert asked.returncode == 0, asked.stderr
        wait_for(
            lambda: _listed(server, asset_id)["last_scan"] != first["last_scan"], 120, "a scan on request"
        )
    finally:
        agent.stop()
