"""The tray's channel to a running agent service: a ticket written through it reaches the backend,
Mis Tickets reads back, bad requests get a clear refusal and never hurt the service."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanet.agent.local import LocalError as IpcError
from lanet.agent.local import call, channel_address
from lanet.agent.paths import AgentPaths
from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[LiveServer, AgentProcess, Path]]:
    server = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    agent = AgentProcess(tmp_path / "agent")
    try:
        token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
        assert agent.register(server.url, token).returncode == 0
        agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
        agent.start()
        sock = Path(channel_address(AgentPaths.for_home(agent.home)))
        wait_for(sock.exists, 30, "the tray channel")
        yield server, agent, sock
    finally:  # also when the setup fails half-way: no server or agent outlives the test
        if agent.alive():
            agent.stop()
        server.stop()


def test_status_ticket_and_my_tickets_through_the_channel(
    running: tuple[LiveServer, AgentProcess, Path],
) -> None:
    server, agent, sock = running
    status = wait_for(lambda: (s := call(sock, "status"))["state"] != "starting" and s, 30, "a first contact")
    assert status["state"] in ("online", "warning") and status["client_name"] == "Cafe Mexico"
    assert status["site_name"] == "CDMX" and "agent_token" not in json.dumps(status)
    preview = call(sock, "preview")
    assert preview["cliente"] == "Cafe Mexico" and preview["equipo"]
    created = call(
        sock,
        "create_ticket",
        {
            "description": "Mi computadora está muy lenta",
            "category": "hardware",
            "priority": "alta",
            "reporter_name": "Juan Pérez",
        },
    )
    listed = wait_for(lambda: (m := call(sock, "my_tickets"))["items"] and m, 30, "the ticket on the backend")
    assert listed["open_count"] == 1 and listed["items"][0]["number"] == "TKT-000001"
    assert (
        wait_for(
            lambda: call(sock, "status")["sent_tickets"].get(created["client_ticket_id"]),
            15,
            "the created number",
        )
        == "TKT-000001"
    )
    detail = call(sock, "ticket_detail", {"ref": "TKT-000001"})
    assert detail["reporter_name"] == "Juan Pérez" and detail["auto_info"]["sitio"] == "CDMX"
    call(sock, "comment", {"ref": "TKT-000001", "body": "Sigue lento"})
    with pytest.raises(IpcError, match="resolved"):
        call(sock, "rate", {"ref": "TKT-000001", "rating": 5})
    server.cli("tickets", "status", "TKT-000001", "resuelto")
    assert call(sock, "rate", {"ref": "TKT-000001", "rating": 5})["rating"] == 5
    assert call(sock, "force_sync") == {"requested": True}
    # The service validates with the compiled contract: after all of that it has loaded neither
    # pydantic nor cryptography (the memory budget depends on it).
    assert agent.proc is not None
    mapped = Path(f"/proc/{agent.proc.pid}/maps").read_text()
    assert "pydantic_core" not in mapped and "cryptography" not in mapped


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        ("explode", {}, "unknown operation"),
        ("create_ticket", {"category": "hardware"}, "description is required"),
        ("create_ticket", {"description": "x", "category": "plomeria"}, "category must be"),
        ("create_ticket", {"description": "x", "category": "red", "priority": "ya"}, "priority must be"),
        ("rate", {"ref": "TKT-000001", "rating": 9}, "rating must be"),
    ],
)
def test_bad_requests_are_refused_clearly(
    running: tuple[LiveServer, AgentProcess, Path], op: str, args: dict[str, object], message: str
) -> None:
    _server, agent, sock = running
    with pytest.raises(IpcError, match=message):
        call(sock, op, args)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(sock))
        raw.sendall(b"not json\n")
        assert b"not JSON" in raw.recv(1000)
    assert agent.alive() and call(sock, "status")["asset_id"]


def test_without_the_service_the_tray_gets_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(IpcError, match="no está en ejecución"):
        call(tmp_path / "nothing.sock", "status")
