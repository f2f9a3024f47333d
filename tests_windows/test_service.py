"""The Windows service under the service control manager: install with recovery actions, start (it
registers nothing itself: the agent is registered first, as the MSI does), heartbeats, stop, uninstall.

The lane starts a real lanet-server on the host and passes its URL and an install token in
``LANET_LANE_SERVER`` and ``LANET_LANE_TOKEN``.
"""

import os
import time
from pathlib import Path

import pytest
import win32service
from tests.e2e.agents import wait_for

from lanet.agent.paths import AgentPaths
from lanet.agent.registration import register
from lanet.agent.status import status_report
from lanet.agent.windows import service as winservice


@pytest.fixture
def home(tmp_path: Path):  # type: ignore[no-untyped-def]
    server, token = os.environ["LANET_LANE_SERVER"], os.environ["LANET_LANE_TOKEN"]
    home = tmp_path / "agent"
    registered = register(AgentPaths.for_home(home), server, token, allow_insecure_http=True)
    assert registered.asset_id
    config = home / "config" / "agent_config.json"
    config.write_text(config.read_text().replace('"interval": 60', '"interval": 5'))
    yield home
    if winservice.status() is not None:
        winservice.uninstall()


def test_install_start_heartbeat_stop_uninstall(home: Path) -> None:
    assert winservice.status() is None
    winservice.install(str(home))
    assert winservice.status() == "stopped"
    manager = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
    service = win32service.OpenService(manager, winservice.SERVICE_NAME, win32service.SERVICE_ALL_ACCESS)
    config = win32service.QueryServiceConfig(service)
    assert config[1] == win32service.SERVICE_AUTO_START
    # Wine accepts the recovery actions install sets but neither stores nor reports them
    # (QueryServiceConfig2 answers "invalid level"); on Windows `sc qfailure LANETAgent` shows them.
    win32service.CloseServiceHandle(service)
    win32service.CloseServiceHandle(manager)

    winservice.start()
    assert winservice.status() == "running"
    paths = AgentPaths.for_home(home)
    wait_for(lambda: status_report(paths).get("last_heartbeat"), 60, "a heartbeat from the service")
    started = time.monotonic()
    winservice.stop()
    assert winservice.status() == "stopped" and time.monotonic() - started < 20
    assert "LANET Agent stopped" in (home / "logs" / "agent.log").read_text(encoding="utf-8")
    winservice.uninstall()
    assert winservice.status() is None
