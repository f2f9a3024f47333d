"""The Debian package: built with the project's script, installed with dpkg, run on Debian's own
python3 and python3-psutil against a real server, then purged. Needs root (dpkg)."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer, start_server
from tests.e2e.agents import AgentProcess, server_samples, wait_for

pytestmark = pytest.mark.e2e
INSTALLED = Path("/usr/bin/lanet-agent")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def package() -> Path:
    built = _run("bash", str(ROOT / "packaging" / "linux" / "build-deb.sh"))
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture
def installed(package: Path) -> Iterator[Path]:
    assert os.geteuid() == 0, "installing a .deb needs root (CI runs as root)"
    done = _run("dpkg", "-i", str(package))
    assert done.returncode == 0, done.stdout + done.stderr
    yield INSTALLED
    _run("dpkg", "--purge", "lanet-agent")


def test_the_package_holds_the_agent_and_nothing_of_the_server(package: Path) -> None:
    fields = _run("dpkg-deb", "-f", str(package), "Package", "Depends").stdout
    assert "lanet-agent" in fields and "python3-psutil" in fields and "pydantic" not in fields
    files = _run("dpkg-deb", "-c", str(package)).stdout
    for expected in (
        "./usr/bin/lanet-agent",
        "./lib/systemd/system/lanet-agent.service",
        "./etc/xdg/autostart/lanet-agent-tray.desktop",
        "./usr/lib/lanet-agent/lanet/protocol/contract.json",
        "./usr/lib/lanet-agent/lanet/agent/core.py",
    ):
        assert expected in files
    assert "lanet/server" not in files and "protocol/heartbeat.py" not in files  # no pydantic models


def test_installed_it_registers_heartbeats_and_purges_cleanly(
    installed: Path, package: Path, tmp_path: Path
) -> None:
    version = _run(str(installed), "--version")
    assert version.returncode == 0 and version.stdout.startswith("lanet-agent ")
    server: LiveServer = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    try:
        token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
        agent = AgentProcess(tmp_path / "agent", command=[str(installed)])
        registered = agent.register(server.url, token)
        assert registered.returncode == 0, registered.stderr
        asset_id = registered.stdout.split()[2]
        agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
        agent.start()
        wait_for(
            lambda: len(server_samples(tmp_path / "server" / "lanet.db", asset_id)) >= 2, 60, "two heartbeats"
        )
        assert agent.stop() < 10
    finally:
        server.stop()
    purged = _run("dpkg", "--purge", "lanet-agent")
    assert purged.returncode == 0 and not installed.exists()
    assert not Path("/usr/lib/lanet-agent").exists()
