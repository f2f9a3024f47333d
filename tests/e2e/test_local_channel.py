"""The tray's channel as the PC's local users reach it: real OS accounts, hostile peers, the backend
gone. The agent service runs as root; the callers run as other accounts (``nobody``, ``daemon``), in
processes of their own, with Debian's own Python and only the agent's source on the path.

Before: identity was whatever the request said (any local user read and commented on everyone's
tickets), 40 idle connections took the service from 33 MB to 238 MB, a CR/LF in a reference made
the transport back off, 776 ``force_sync`` calls used up the asset's heartbeat quota, and "Mis
Tickets" was empty whenever the backend was unreachable.
"""

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from lanet.agent.local import channel_address
from lanet.agent.local.framing import READ_TIMEOUT
from lanet.agent.local.service import SYNC_EVERY, TICKETS_PER_WINDOW
from lanet.agent.paths import AgentPaths
from tests.conftest import ROOT, LiveServer, start_server
from tests.e2e.agents import AgentProcess, server_samples, wait_for

pytestmark = pytest.mark.e2e
SRC = ROOT / "src"
CLIENT = """
import json, sys
from lanet.agent.local import LocalError, call
op, args = sys.argv[2], json.loads(sys.argv[3])
try:
    print(json.dumps({"ok": True, "data": call(sys.argv[1], op, args)}))
except LocalError as exc:
    print(json.dumps({"ok": False, "error": str(exc)}))
"""


def as_user(user: str, sock: Path, op: str, args: dict[str, Any] | None = None) -> Any:
    """One request from a process running as ``user`` (Debian's python3, the agent's source only)."""
    account = pwd.getpwnam(user)
    result = subprocess.run(
        ["/usr/bin/python3", "-c", CLIENT, str(sock), op, json.dumps(args or {})],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": "/"},
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    if not reply["ok"]:
        raise LookupError(reply["error"])
    return reply["data"]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[LiveServer, AgentProcess, Path]]:
    server = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    # Other accounts must reach the socket: the agent's home is not under root's private tmp.
    home = Path(tempfile.mkdtemp(prefix="lanet-local-"))
    os.chmod(home, 0o755)  # noqa: S103 - other local users' trays must reach the socket
    agent = AgentProcess(home / "agent")
    try:
        token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
        assert agent.register(server.url, token).returncode == 0
        agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
        agent.start()
        sock = Path(channel_address(AgentPaths.for_home(agent.home)))
        wait_for(sock.exists, 30, "the tray channel")
        wait_for(lambda: as_user("nobody", sock, "status")["state"] != "starting", 30, "a first contact")
        yield server, agent, sock
    finally:
        if agent.alive():
            agent.stop()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _ticket(user: str, sock: Path, text: str, **extra: Any) -> str:
    created = as_user(user, sock, "create_ticket", {"description": text, "category": "hardware", **extra})
    return str(created["client_ticket_id"])


def test_each_local_user_sees_and_touches_only_their_own_tickets(
    running: tuple[LiveServer, AgentProcess, Path],
) -> None:
    server, _agent, sock = running
    mine = _ticket("nobody", sock, "Mi impresora no imprime", reporter_name="Gerente General")
    _ticket("daemon", sock, "No tengo internet")
    number = wait_for(
        lambda: as_user("nobody", sock, "status")["sent_tickets"].get(mine), 30, "the ticket on the server"
    )
    wait_for(lambda: as_user("daemon", sock, "my_tickets")["items"], 30, "daemon's ticket")
    nobody_sees = [t["description"] for t in as_user("nobody", sock, "my_tickets")["items"]]
    daemon_sees = [t["description"] for t in as_user("daemon", sock, "my_tickets")["items"]]
    assert nobody_sees == ["Mi impresora no imprime"] and daemon_sees == ["No tengo internet"]
    # The reporter is the account the OS names, whatever name the form carried.
    detail = as_user("nobody", sock, "ticket_detail", {"ref": number})
    assert detail["reporter_account"] == "nobody" and detail["reporter_name"] == "Gerente General"
    for op, args in (
        ("ticket_detail", {"ref": number}),
        ("comment", {"ref": number, "body": "lo vi"}),
        ("rate", {"ref": number, "rating": 1}),
    ):
        with pytest.raises(LookupError, match=r"404|No ticket"):
            as_user("daemon", sock, op, args)
    as_user("nobody", sock, "comment", {"ref": number, "body": "Sigue sin imprimir"})
    shown = json.loads(server.cli("tickets", "show", number, "--json").stdout)
    # A comment is signed by the commenting account's own name (its GECOS name here).
    assert [c["author"] for c in shown["comments"]] == ["nobody"]


def test_a_flood_of_idle_connections_neither_grows_the_service_nor_blocks_the_tray(
    running: tuple[LiveServer, AgentProcess, Path],
) -> None:
    _server, agent, sock = running
    assert agent.proc is not None
    service = psutil.Process(agent.proc.pid)
    before = service.memory_info().rss
    idle = []
    for _ in range(40):
        peer = socket.socket(socket.AF_UNIX)
        peer.connect(str(sock))
        with contextlib.suppress(BrokenPipeError):  # a busy service may have answered and closed already
            peer.sendall(b'{"op": "create_ticket", "length": 7000000}\n' + b"x" * 1000)  # then stalls
        idle.append(peer)
    try:
        # Served, or told at once that the service is busy: never left hanging, never crashing it.
        answers = []
        for _ in range(5):
            try:
                answers.append(as_user("nobody", sock, "status")["state"])
            except LookupError as exc:
                answers.append(str(exc))
        assert any(a in ("online", "warning") for a in answers) or all("ocupado" in a for a in answers)
        threads = service.num_threads()
        grown = service.memory_info().rss - before
        assert grown < 30 * 1024 * 1024, grown  # a few MiB, not the 205 MB of before
        assert threads < 40, threads
        time.sleep(READ_TIMEOUT + 1)  # the stalled peers are cut off...
        cut = sum(1 for peer in idle if _closed(peer))
        assert cut == len(idle)
        assert as_user("nobody", sock, "status")["state"] in ("online", "warning")  # ...and it serves again
    finally:
        for peer in idle:
            peer.close()
    assert agent.alive()


def _closed(peer: socket.socket) -> bool:
    peer.settimeout(1)
    try:
        data = peer.recv(65536)
    except (TimeoutError, OSError):
        return False
    return data == b"" or b"in time" in data or b"ocupado" in data or b"too large" in data


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        ("ticket_detail", {"ref": "TKT-000001\r\nX-Evil: 1"}, "ref must be"),
        ("comment", {"ref": "../../admin", "body": "x"}, "ref must be"),
        ("my_tickets", {"q": "hola\r\nmundo"}, "single line"),
        ("create_ticket", {"description": "x\x00y", "category": "red"}, "control characters"),
        ("status", {"pad": "x" * 20_000}, "too large"),
    ],
)
def test_every_field_is_checked_before_it_reaches_the_network(
    running: tuple[LiveServer, AgentProcess, Path], op: str, args: dict[str, Any], message: str
) -> None:
    _server, _agent, sock = running
    with pytest.raises(LookupError, match=message):
        as_user("nobody", sock, op, args)
    status = as_user("nobody", sock, "status")
    assert status["state"] in ("online", "warning") and status["last_error"] is None


def test_force_sync_and_ticket_creation_are_throttled_per_user(
    running: tuple[LiveServer, AgentProcess, Path], tmp_path: Path
) -> None:
    _server, agent, sock = running
    asset_id = json.loads((agent.home / "config" / "agent_config.json").read_text())["agent"]["asset_id"]
    db = tmp_path / "server" / "lanet.db"
    before = len(server_samples(db, asset_id))
    started = time.monotonic()
    for _ in range(100):
        assert as_user("nobody", sock, "force_sync") == {"requested": True}
    elapsed = time.monotonic() - started
    # At most one sync per SYNC_EVERY seconds beyond the 5 s heartbeats themselves.
    allowed = int(elapsed // 5) + int(elapsed // SYNC_EVERY) + 3
    assert len(server_samples(db, asset_id)) - before <= allowed
    for n in range(TICKETS_PER_WINDOW):
        _ticket("daemon", sock, f"problema {n}")
    with pytest.raises(LookupError, match="espere"):
        _ticket("daemon", sock, "uno más")
    _ticket("nobody", sock, "otro usuario, otro límite")


def test_mis_tickets_shows_the_last_list_and_the_pending_ones_while_the_backend_is_down(
    running: tuple[LiveServer, AgentProcess, Path],
) -> None:
    server, _agent, sock = running
    first = _ticket("nobody", sock, "Antes del corte")
    wait_for(lambda: as_user("nobody", sock, "status")["sent_tickets"].get(first), 30, "the first ticket")
    online = as_user("nobody", sock, "my_tickets")
    assert online["stale"] is False and [t["description"] for t in online["items"]] == ["Antes del corte"]
    server.stop()
    _ticket("nobody", sock, "Durante el corte")
    offline = wait_for(
        lambda: (m := as_user("nobody", sock, "my_tickets"))["stale"] and m, 30, "the offline answer"
    )
    assert [t["description"] for t in offline["items"]] == ["Antes del corte"]
    assert offline["cached_at"] is not None
    assert [p["description"] for p in offline["pending"]] == ["Durante el corte"]
    assert as_user("daemon", sock, "my_tickets")["items"] == []  # another user's list is not shown
