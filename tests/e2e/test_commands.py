"""Remote scripts end to end: a technician queues with ``lanet-server commands``, a real agent runs
them, results come back through its outbox."""

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = pytest.mark.e2e
FINAL = {"succeeded", "failed", "timed_out", "refused", "interrupted", "expired"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    yield live
    live.stop()


@pytest.fixture
def agent(server: LiveServer, tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path / "agent")
    token = server.cli("tokens", "create", "--client", "Acme", "--site", "HQ").stdout.strip().splitlines()[-1]
    result = proc.register(server.url, token)
    assert result.returncode == 0, result.stderr
    proc.asset_id = result.stdout.split()[2]  # type: ignore[attr-defined]
    proc.tune(
        heartbeat={"interval": 5},
        backend={"retry_delay": 1, "timeout": 5},
        scripts={"allowed_types": ["bash", "sh", "python"], "max_concurrent": 2, "timeout": 120},
    )
    yield proc
    if proc.alive():
        proc.kill9()


def send(server: LiveServer, agent: AgentProcess, kind: str, script: str, *extra: str) -> str:
    result = server.cli(
        "commands",
        "send",
        "--asset",
        agent.asset_id,
        "--type",
        kind,  # type: ignore[attr-defined]
        "--inline",
        script,
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def show(server: LiveServer, command_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(server.cli("commands", "show", command_id, "--json").stdout)
    return data


def finished(server: LiveServer, command_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(
        lambda: (d := show(server, command_id))["status"] in FINAL and d,
        timeout,  # type: ignore[no-any-return]
        f"command {command_id} to finish",
    )


def test_output_and_exit_code_come_back(server: LiveServer, agent: AgentProcess, tmp_path: Path) -> None:
    agent.start()
    failing = send(server, agent, "bash", 'echo "hola $1"; echo problema >&2; exit 3', "--arg", "mundo")
    ok = send(server, agent, "python", "import sys; print('ñandú', sys.version_info[0])")
    result = finished(server, failing)
    assert (result["status"], result["exit_code"]) == ("failed", 3)
    assert result["stdout"] == "hola mundo\n" and result["stderr"] == "problema\n"
    assert result["started_at"] and result["finished_at"] and result["queued_by"].startswith("cli:")
    good = finished(server, ok)
    assert (good["status"], good["exit_code"], good["stdout"]) == ("succeeded", 0, "ñandú 3\n")
    scripts_log = agent.log_text("scripts.log")
    assert failing in scripts_log and "exit 3" in scripts_log and "hola" not in scripts_log
    assert list((agent.home / "scripts").iterdir()) == []  # temporary script files are removed
    with sqlite3.connect(tmp_path / "server" / "lanet.db") as conn:
        actions = [
            r[0]
            for r in conn.execute("SELECT action FROM audit_log WHERE target_id = ? ORDER BY id", (failing,))
        ]
    assert actions == ["command.queue", "command.deliver", "command.result"]
    listed = server.cli("commands", "list", "--asset", agent.asset_id).stdout  # type: ignore[attr-defined]
    assert failing in listed and ok in listed


def test_a_timeout_kills_the_script_and_its_children(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    script = 'sleep 1000 & echo $! > "$1"; bash -c "sleep 1000" & sleep 1000'
    command_id = send(server, agent, "bash", script, "--arg", str(pid_file), "--timeout", "3")
    agent.start()
    result = finished(server, command_id)
    assert result["status"] == "timed_out" and "timeout" in result["reason"]
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "1000"]]
    assert leftovers == []


def test_max_concurrent_holds_under_a_burst(server: LiveServer, agent: AgentProcess, tmp_path: Path) -> None:
    log = tmp_path / "spans.log"
    script = 'echo "start $(date +%s.%N)" >> "$1"; sleep 1.5; echo "end $(date +%s.%N)" >> "$1"'
    ids = [send(server, agent, "bash", script, "--arg", str(log)) for _ in range(10)]
    agent.start()
    for command_id in ids:
        assert finished(server, command_id, timeout=90)["status"] == "succeeded"
    events = sorted((float(t), kind) for kind, t in (line.split() for line in log.read_text().splitlines()))
    running = peak = 0
    for _at, kind in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert len(events) == 20 and peak == 2


def test_a_type_that_is_not_allowed_is_refused_with_the_reason(
    server: LiveServer, agent: AgentProcess
) -> None:
    agent.start()
    command_id = send(server, agent, "powershell", "Get-Service")
    result = finished(server, command_id)
    assert result["status"] == "refused" and "not allowed" in result["reason"]
    assert result["exit_code"] is None


def test_kill_9_mid_run_reports_interrupted_and_never_runs_again(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.log"
    command_id = send(server, agent, "bash", 'echo run >> "$1"; sleep 31', "--arg", str(marker))
    agent.start()
    wait_for(marker.exists, 40, "the script to start")
    agent.kill9()
    orphans = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "31"]]
    assert orphans, "the script outlived the killed agent"
    agent.start()
    result = finished(server, command_id)
    assert result["status"] == "interrupted"
    wait_for(
        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in orphans),
        10,
        "the restarted agent to end what the crash left running",
    )
    time.sleep(12)  # two more heartbeats: the server no longer offers it, the ledger would refuse it anyway
    assert marker.read_text() == "run\n"


def test_a_command_queued_while_the_agent_is_down_runs_once_when_it_returns(
    server: LiveServer, agent: AgentProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.log"
    command_id = send(server, agent, "sh", 'echo ran >> "$1"', "--arg", str(marker), "--priority", "high")
    assert show(server, command_id)["status"] == "queued"
    agent.start()
    assert finished(server, command_id)["status"] == "succeeded"
    time.sleep(11)
    assert marker.read_text() == "ran\n"


def test_an_expired_command_never_runs(server: LiveServer, agent: AgentProcess, tmp_path: Path) -> None:
    marker = tmp_path / "never"
    command_id = send(server, agent, "sh", 'touch "$1"', "--arg", str(marker))
    with sqlite3.connect(tmp_path / "server" / "lanet.db") as conn:
        conn.execute(
            "UPDATE commands SET expires_at = '2000-01-01 00:00:00.000000' WHERE id = ?", (command_id,)
        )
    agent.start()
    result = finished(server, command_id)
    assert result["status"] == "expired" and result["exit_code"] is None
    time.sleep(6)
    assert not marker.exists()


def test_output_over_the_cap_is_truncated_and_flagged(server: LiveServer, agent: AgentProcess) -> None:
    agent.start()
    command_id = send(
        server, agent, "python", "import sys\nsys.stdout.write('x' * 200000)\nsys.stderr.write('e')"
    )
    result = finished(server, command_id)
    assert result["status"] == "succeeded"
    assert result["stdout_truncated"] is True and len(result["stdout"]) == 65536
    assert result["stderr_truncated"] is False and result["stderr"] == "e"


def test_cli_refuses_bad_commands(server: LiveServer, agent: AgentProcess) -> None:
    bad = server.cli("commands", "send", "--asset", "nope", "--type", "bash", "--inline", "true")
    assert bad.returncode == 2 and "no asset" in bad.stderr
    empty = server.cli(
        "commands",
        "send",
        "--asset",
        agent.asset_id,
        "--type",
        "bash",  # type: ignore[attr-defined]
        "--inline",
        "  ",
    )
    assert empty.returncode == 2 and "empty" in empty.stderr
    assert os.path.basename(__file__)
