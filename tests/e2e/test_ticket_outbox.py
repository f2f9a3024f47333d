"""A ticket written on the PC while the backend is down is kept, then created exactly once."""

import base64
import sqlite3
import time
from pathlib import Path

import pytest

from lanet.agent.core import Agent
from lanet.agent.local.service import Caller
from lanet.agent.paths import AgentPaths
from tests.conftest import start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = pytest.mark.e2e


def test_offline_ticket_is_delivered_once_when_the_backend_returns(tmp_path: Path) -> None:
    db = tmp_path / "server" / "lanet.db"
    server = start_server(tmp_path / "server", f"sqlite:///{db}")
    home = tmp_path / "agent"
    proc = AgentProcess(home)
    token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
    assert proc.register(server.url, token).returncode == 0
    proc.tune(backend={"retry_delay": 1, "timeout": 5})
    server.stop()

    agent = Agent(AgentPaths.for_home(home))
    try:
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
        juan = Caller("juan")

        def pending_tickets(_agent: Agent) -> list[dict[str, object]]:
            return agent.desk.pending(juan)

        ticket_id = agent.desk.create(
            juan,
            {
                "description": "No enciende el monitor",
                "category": "hardware",
                "reporter_name": "Juan Pérez",
                "screenshot_png_base64": base64.b64encode(png).decode(),
            },
        )["client_ticket_id"]
        agent.drain()
        assert [t["client_ticket_id"] for t in pending_tickets(agent)] == [ticket_id]  # kept while offline

        restarted = start_server(tmp_path / "server", f"sqlite:///{db}", port=server.port)
        try:

            def delivered() -> bool:
                agent.drain()
                return not pending_tickets(agent)

            wait_for(delivered, 60, "the ticket to be delivered")
            time.sleep(0.5)
            agent.drain()
        finally:
            restarted.stop()
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT number, reporter_name, client_ticket_id, auto_info FROM tickets"
            ).fetchall()
        assert len(rows) == 1 and rows[0][1] == "Juan Pérez" and rows[0][2] == ticket_id
        assert '"cliente": "Cafe Mexico"' in rows[0][3]
        assert agent.store.get("sent_tickets") == {ticket_id: "TKT-000001"}
    finally:
        agent.store.close()
