"""An agent's update reports travel through its outbox to the server like its other precious items:
queued while the server is away, delivered once, and visible in ``releases status``. This is the
whole of what adding the endpoint took on the agent: one outbox kind."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from tests.conftest import LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = [pytest.mark.e2e]
FAST = {"heartbeat": {"interval": 5}, "backend": {"retry_delay": 1, "timeout": 5}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    data = tmp_path / "server"
    live = start_server(
        data,
        f"sqlite:///{data / 'lanet.db'}",
        extra_env={"LANET_RELEASE_PASSPHRASE": "correct horse battery staple"},
    )
    yield live
    live.stop()


def test_an_update_report_queued_offline_reaches_the_release_status(
    server: LiveServer, tmp_path: Path
) -> None:
    keys = tmp_path / "usb"
    assert server.cli("releases", "keygen", "--keys", str(keys)).returncode == 0
    package = tmp_path / "lanet-agent_0.2.0_all.deb"
    package.write_bytes(b"!<arch>\n" + b"x" * 5000)
    published = server.cli(
        "releases",
        "publish",
        str(package),
        "--version",
        "0.2.0",
        "--platform",
        "linux-deb",
        "--keys",
        str(keys),
    )
    assert published.returncode == 0, published.stderr
    agent = AgentProcess(tmp_path / "agent")
    token = server.cli("tokens", "create", "--client", "Cafe", "--site", "CDMX").stdout.split()[-1]
    registered = agent.register(server.url, token)
    assert registered.returncode == 0, registered.stderr
    agent.tune(**FAST)
    asset_id = registered.stdout.split()[2]
    paths = AgentPaths.for_home(agent.home)
    store = Store(paths.database, default_protector(paths.key_file, True))
    report_id = str(uuid.uuid4())
    store.enqueue(
        "update_report",
        report_id,
        {
            "asset_id": asset_id,
            "report_id": report_id,
            "version": "0.2.0",
            "state": "failed",
            "reason": "la firma del paquete no es válida",
            "running_version": "0.1.0",
            "at": datetime.now(UTC).isoformat(),
        },
        2,
        precious=True,
    )
    store.close()
    agent.start()
    try:

        def reported() -> list[dict[str, object]]:
            status = server.cli("releases", "status", "0.2.0", "--json")
            return list(json.loads(status.stdout)["assets"]) if status.returncode == 0 else []

        assets = wait_for(reported, 40, "the agent's report in the release status")
        assert [(a["asset_id"], a["state"], a["reason"]) for a in assets] == [
            (asset_id, "failed", "la firma del paquete no es válida")
        ]
        wait_for(lambda: agent.status()["outbox"] == {}, 30, "the outbox empty")
    finally:
        agent.stop()
