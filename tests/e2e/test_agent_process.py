"""``lanet-agent`` and ``lanet-server`` as real processes: registration, heartbeats, outages, crashes,
rate limits and bad replies."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanet.agent.transport import BACKOFF_CAP
from tests.agent.stub_server import Canned, StubServer
from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, server_assets, server_samples, wait_for

pytestmark = pytest.mark.e2e
FAST = {"heartbeat": {"interval": 5}, "backend": {"retry_delay": 1, "timeout": 5}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    yield live
    live.stop()


def _db(tmp_path: Path) -> Path:
    return tmp_path / "server" / "lanet.db"


def _token(server: LiveServer, **flags: str) -> str:
    args = ["tokens", "create", "--client", "Cafe Mexico S.A. de C.V.", "--site", "Oficina Principal CDMX"]
    for key, value in flags.items():
        args += [f"--{key.replace('_', '-')}", value]
    return server.cli(*args).stdout.strip().splitlines()[-1]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path / "agent")
    yield proc
    if proc.alive():
        proc.kill9()


def test_register_then_heartbeats_arrive_and_stop_is_clean(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    result = agent.register(server.url, _token(server))
    assert result.returncode == 0, result.stderr
    asset_id = result.stdout.split()[2]
    assert "Cafe Mexico S.A. de C.V." in result.stdout and "Oficina Principal CDMX" in result.stdout
    config = json.loads((agent.home / "config" / "agent_config.json").read_text())
    assert config["agent"]["asset_id"] == asset_id and config["backend"]["url"] == server.url + "/api"
    agent.tune(**FAST)
    agent.start()
    wait_for(lambda: len(server_samples(_db(tmp_path), asset_id)) >= 2, 30, "two heartbeats")
    listed = json.loads(server.cli("assets", "list", "--json").stdout)
    assert listed[0]["agent_status"] in ("online", "warning")
    assert agent.stop() < 5
    status = agent.status()
    # A heartbeat queued just as the agent stopped waits in the outbox for the next start.
    waiting = status["outbox"].get("heartbeat", 0)
    assert status["registered"] is True and set(status["outbox"]) <= {"heartbeat"} and waiting <= 1
    assert status["heartbeats_queued"] == len(server_samples(_db(tmp_path), asset_id)) + waiting
    for name in ("agent.log", "heartbeat.log"):
        assert (agent.home / "logs" / name).exists()
    assert "heartbeat delivered" in agent.log_text("heartbeat.log")
    token_file_text = (agent.home / "data" / "agent.db").read_bytes()
    assert b"lrt_" not in token_file_text  # credentials are encrypted at rest


@pytest.mark.parametrize(
    ("token", "code", "reason"),
    [
        ("LANET-AAAA-BBBB-CCCCCC", "TOKEN_INVALID", "does not exist"),
        ("not-a-token", "TOKEN_MALFORMED", "form"),
    ],
)
def test_a_refused_token_prints_the_reason_and_exits_nonzero(
    server: LiveServer, agent: AgentProcess, token: str, code: str, reason: str
) -> None:
    started = time.monotonic()
    result = agent.register(server.url, token)
    assert result.returncode == 3 and code in result.stderr and reason in result.stderr
    assert time.monotonic() - started < 30  # refused once, not retried in a loop


def test_a_revoked_token_is_named_inactive(server: LiveServer, agent: AgentProcess) -> None:
    revoked = _token(server)
    server.cli("tokens", "revoke", revoked)
    result = agent.register(server.url, revoked)
    assert result.returncode == 3 and "TOKEN_INACTIVE" in result.stderr and "deactivated" in result.stderr


def test_token_file_is_read_when_no_token_is_given(server: LiveServer, agent: AgentProcess) -> None:
    (agent.home / "config").mkdir(parents=True)
    (agent.home / "config" / "token.txt").write_text(_token(server) + "\n")
    result = agent.cli("register", "--server", server.url, "--allow-insecure-http")
    assert result.returncode == 0, result.stderr


def test_remove_data_needs_a_confirmation_then_removes_every_folder(
    server: LiveServer, agent: AgentProcess
) -> None:
    assert agent.register(server.url, _token(server)).returncode == 0
    folders = [agent.home / name for name in ("config", "data", "logs", "scripts")]
    assert all(folder.is_dir() for folder in folders)
    refused = agent.cli("remove-data")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert all(folder.is_dir() for folder in folders)
    assert agent.cli("remove-data", "--yes").returncode == 0
    assert not any(folder.exists() for folder in folders)


def test_keep_token_saves_the_token_in_the_install_layout(server: LiveServer, agent: AgentProcess) -> None:
    token = _token(server)
    result = agent.cli(
        "register", "--server", server.url, "--token", token, "--keep-token", "--allow-insecure-http"
    )
    assert result.returncode == 0, result.stderr
    token_file = agent.home / "config" / "token.txt"
    assert token_file.read_text() == token + "\n"
    assert token_file.stat().st_mode & 0o077 == 0  # private to the agent's account


@pytest.mark.slow
def test_a_30_second_outage_loses_nothing_and_duplicates_nothing(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    asset_id = agent.register(server.url, _token(server)).stdout.split()[2]
    agent.tune(**FAST)
    agent.start()
    wait_for(lambda: server_samples(_db(tmp_path), asset_id), 30, "a first heartbeat")
    server.stop()
    time.sleep(30)
    assert agent.alive()
    queued = agent.status()["outbox"].get("heartbeat", 0)
    assert queued >= 3, "heartbeats made during the outage are kept"
    restarted = start_server(tmp_path / "server", f"sqlite:///{_db(tmp_path)}", port=server.port)
    try:
        # After a dozen failures the next attempt may be up to BACKOFF_CAP away (full jitter, so a
        # fleet does not come back at once): the drain is waited for that long, not a fixed guess.
        wait_for(lambda: agent.status()["outbox"] == {}, BACKOFF_CAP + 60, "the backlog to drain")
        agent.stop()
        samples = server_samples(_db(tmp_path), asset_id)
        # Each heartbeat the agent made is stored once: none lost, none twice.
        assert len(samples) == agent.status()["heartbeats_queued"]
    finally:
        restarted.stop()


@pytest.mark.slow
def test_kill_9_and_restart_keep_the_identity_and_lose_nothing(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    asset_id = agent.register(server.url, _token(server)).stdout.split()[2]
    agent.tune(**FAST)
    agent.start()
    wait_for(lambda: len(server_samples(_db(tmp_path), asset_id)) >= 2, 30, "two heartbeats")
    agent.kill9()
    agent.start()
    count = len(server_samples(_db(tmp_path), asset_id))
    wait_for(
        lambda: len(server_samples(_db(tmp_path), asset_id)) >= count + 2, 30, "heartbeats after restart"
    )
    agent.stop()
    assert len(server_assets(_db(tmp_path))) == 1
    samples = server_samples(_db(tmp_path), asset_id)
    assert agent.status()["heartbeats_queued"] == len(samples) + sum(agent.status()["outbox"].values())


# --- against a scripted server ---------------------------------------------------------------------
ASSET = "456e7890-e89b-12d3-a456-426614174000"
CLIENT = "550e8400-e29b-41d4-a716-446655440001"
SITE = "660e8400-e29b-41d4-a716-446655440001"
REGISTERED = {
    "asset_id": ASSET,
    "client_id": CLIENT,
    "site_id": SITE,
    "agent_token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
    "refresh_token": "lrt_" + "r" * 40,
    "token_expires_at": "2099-01-01T00:00:00Z",
    "registered_at": "2025-07-15T21:00:00Z",
    "config": {
        "heartbeat_interval": 5,
        "monitoring_enabled": True,
        "auto_ticket_creation": False,
        "allowed_scripts": ["bash"],
        "update_schedule": "02:00",
        "log_level": "INFO",
        "backend_url": "http://example.invalid/api",
    },
}
GOOD_BEAT = Canned.ok(
    {
        "received_at": "2025-07-15T21:05:00Z",
        "next_heartbeat": "2025-07-15T21:06:00Z",
        "commands": [],
        "config_updates": {},
    }
)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.on("/agents/register-with-token", Canned.ok(REGISTERED, 201))
    server.on("/agents/inventory", Canned.ok({"changed": True, "inventory_digest": "x"}))
    yield server
    server.close()


def test_retry_after_from_a_429_is_respected(stub: StubServer, agent: AgentProcess) -> None:
    assert agent.register(stub.url.removesuffix("/api"), "LANET-AAAA-BBBB-CCCCCC").returncode == 0
    stub.on("/agents/heartbeat", Canned.error(429, "RATE_LIMITED", {"Retry-After": "12"}), GOOD_BEAT)
    agent.tune(**FAST)
    agent.start()
    wait_for(lambda: len(stub.seen("/agents/heartbeat")) >= 2, 40, "the heartbeat after the 429")
    agent.stop()
    first, second = stub.seen("/agents/heartbeat")[:2]
    assert second.at - first.at >= 11.5, "the agent waited out Retry-After"
    assert second.body["message_id"] == first.body["message_id"], "the refused heartbeat was sent again"


def test_register_waits_out_a_429_instead_of_failing_the_installer(
    stub: StubServer, agent: AgentProcess
) -> None:
    """More than 30 PCs behind one NAT in a minute share the per-address quota: the MSI's register
    must wait as the server says, not exit and roll the install back."""
    stub.on(
        "/agents/register-with-token",
        Canned.error(429, "RATE_LIMITED", {"Retry-After": "2"}),
        Canned.error(429, "RATE_LIMITED", {"Retry-After": "1"}),
        Canned.ok(REGISTERED, 201),
    )
    result = agent.register(stub.url, "LANET-AAAA-BBBB-CCCCCC")
    assert result.returncode == 0, result.stderr
    attempts = stub.seen("/agents/register-with-token")
    assert len(attempts) == 3
    assert attempts[1].at - attempts[0].at >= 1.9 and attempts[2].at - attempts[1].at >= 0.9
    assert attempts[0].body["identity_secret"] == attempts[2].body["identity_secret"]  # one identity


@pytest.mark.slow
def test_bad_replies_never_crash_the_loop(stub: StubServer, agent: AgentProcess) -> None:
    assert agent.register(stub.url, "LANET-AAAA-BBBB-CCCCCC").returncode == 0
    stub.on(
        "/agents/heartbeat",
        Canned(200, b'{"success": true, "data": {"received_'),
        Canned(502, b"<html><h1>502 Bad Gateway</h1></html>", {"Content-Type": "text/html"}),
        Canned(200, b'{"success": true, "data": {"received_at": 5, "commands": "none"}}'),
        Canned(200, b"[]"),
        Canned(500, b""),
        GOOD_BEAT,
    )
    agent.tune(**FAST)
    agent.start()
    wait_for(lambda: len(stub.seen("/agents/heartbeat")) >= 7, 90, "the agent to get through every bad reply")
    assert agent.alive()
    wait_for(lambda: agent.status()["outbox"].get("heartbeat", 0) == 0, 30, "the backlog to drain")
    agent.stop()
    text = agent.log_text()
    assert "agent loop pass failed" not in text and "Traceback" not in text
    assert "unexpected shape" in agent.log_text("heartbeat.log") or "unexpected shape" in text


def test_a_stop_signal_the_kernel_hands_to_another_thread_still_stops_the_agent(
    server: LiveServer, agent: AgentProcess
) -> None:
    """The kernel may deliver a process-directed SIGTERM to any of its threads. Sent here to one
    that is not the main thread on purpose (tgkill): a main thread blocked on an untimed lock would
    never run the handler, and the agent would keep running."""
    import ctypes
    import os
    import signal

    assert agent.register(server.url, _token(server)).returncode == 0
    agent.tune(**FAST)
    agent.start()
    assert agent.proc is not None
    pid = agent.proc.pid
    tasks = Path(f"/proc/{pid}/task")
    other = wait_for(
        lambda: next((int(t.name) for t in tasks.iterdir() if int(t.name) != pid), None),
        30,
        "a thread besides the main one",
    )
    wait_for(lambda: "started" in agent.log_text("agent.log"), 30, "the agent started")
    libc = ctypes.CDLL(None, use_errno=True)
    sys_tgkill = 234  # x86_64
    assert libc.syscall(sys_tgkill, pid, other, signal.SIGTERM) == 0, os.strerror(ctypes.get_errno())
    agent.proc.wait(10)
    assert agent.proc.returncode == 0
    assert "LANET Agent stopped" in agent.log_text("agent.log")
