"""The agent's side of a release, up to the staged package: a packaged agent (the modules as the
package scripts lay them out, with the MSP's trusted root) is offered a release in its heartbeat,
starts its update worker, verifies the release with TUF, downloads it and the way back, and reports
each step to the server. What the server says is a hint; what is signed decides."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from tests.conftest import ROOT, LiveServer, free_port, start_server
from tests.e2e.agents import AgentProcess, wait_for
from tests.e2e.releases import PASSPHRASE, kill_agents_of, publish, random_package, status

pytestmark = [pytest.mark.e2e]
FAST = {"heartbeat": {"interval": 5}, "backend": {"retry_delay": 1, "timeout": 5}}
RUNNING = "0.1.0"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    data = tmp_path / "server"
    live = start_server(
        data, f"sqlite:///{data / 'lanet.db'}", extra_env={"LANET_RELEASE_PASSPHRASE": PASSPHRASE}
    )
    yield live
    live.stop()


def _packaged(tmp_path: Path, keys: Path) -> Path:
    """The agent's modules laid out by the package scripts, carrying the trusted root."""
    lib = tmp_path / "pkg"
    env = {**os.environ, "LANET_TRUSTED_ROOT": str(keys / "trusted_root.json")}
    laid = subprocess.run(
        ["bash", str(ROOT / "packaging" / "agent-modules.sh"), str(lib), "linux-deb"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert laid.returncode == 0, laid.stderr
    assert (lib / "lanet/agent/_package.py").read_text().endswith('PLATFORM = "linux-deb"\n')
    return lib


def _agent(server: LiveServer, tmp_path: Path, lib: Path, site: str = "CDMX") -> tuple[AgentProcess, str]:
    agent = AgentProcess(tmp_path / f"agent-{site}")
    agent.env["PYTHONPATH"] = str(lib)  # the packaged modules, before the development tree
    token = server.cli("tokens", "create", "--client", "Cafe", "--site", site).stdout.split()[-1]
    registered = agent.register(server.url, token)
    assert registered.returncode == 0, registered.stderr
    agent.tune(**FAST)
    return agent, registered.stdout.split()[2]


def test_offered_now_the_worker_verifies_downloads_and_stages_the_release(
    server: LiveServer, tmp_path: Path
) -> None:
    """The packages here are random bytes, not .debs: everything up to the swap accepts them (they
    are what the offline key signed), and dpkg then refuses them, which is reported as the failure."""
    keys = tmp_path / "usb"
    assert server.cli("releases", "keygen", "--keys", str(keys)).returncode == 0
    lib = _packaged(tmp_path, keys)
    previous = random_package(tmp_path / "old", RUNNING)
    publish(server, keys, previous, RUNNING)
    new = random_package(tmp_path / "new", "0.2.0")
    publish(server, keys, new, "0.2.0")
    agent, _asset = _agent(server, tmp_path, lib)
    assert server.cli("releases", "rollout", "0.2.0", "--percent", "100", "--now").returncode == 0
    agent.start()
    try:
        failed = wait_for(
            lambda: [a for a in status(server, "0.2.0")["assets"] if a["state"] == "failed"],
            90,
            "the swap attempted",
        )
    finally:
        kill_agents_of(agent.home)
    assert "dpkg -i failed" in failed[0]["reason"]
    assert "release 0.2.0 offered (now)" in agent.log_text()
    update_log = (agent.home / "logs" / "update.log").read_text()
    assert "installing 0.2.0 failed" in update_log
    kept = agent.home / "data" / "cache" / "updates" / "packages"
    contents = {p.read_bytes() for p in kept.iterdir()}
    assert contents == {new.read_bytes(), previous.read_bytes()}  # both verified and kept


def test_a_tampered_package_and_an_unsigned_downgrade_are_refused_with_the_reason(
    server: LiveServer, tmp_path: Path
) -> None:
    keys = tmp_path / "usb"
    assert server.cli("releases", "keygen", "--keys", str(keys)).returncode == 0
    lib = _packaged(tmp_path, keys)
    package = random_package(tmp_path / "old", RUNNING)
    publish(server, keys, package, RUNNING)
    package = random_package(tmp_path / "new", "0.2.0")
    publish(server, keys, package, "0.2.0")
    stored = next((Path(server.env["LANET_DATA_DIR"]) / "releases/targets/linux-deb").glob("*0.2.0*"))
    stored.write_bytes(b"\0" * stored.stat().st_size)  # changed after it was signed
    agent, _asset = _agent(server, tmp_path, lib)
    assert server.cli("releases", "rollout", "0.2.0", "--percent", "100", "--now").returncode == 0
    agent.start()
    try:
        failed = wait_for(
            lambda: [a for a in status(server, "0.2.0")["assets"] if a["state"] == "failed"],
            60,
            "the failure reported",
        )
    finally:
        agent.stop()
    assert "LengthOrHashMismatchError" in failed[0]["reason"]
    # The worker itself refuses a signed release older than what runs unless signed as a rollback,
    # whatever the server offers (a compromised server offering an old, vulnerable version).
    package = random_package(tmp_path / "older", "0.0.9")
    publish(server, keys, package, "0.0.9")
    paths = AgentPaths.for_home(agent.home)
    store = Store(paths.database, default_protector(paths.key_file, True))
    store.put(
        "update.offer",
        {
            "version": "0.0.9",
            "platform": "linux-deb",
            "target": "linux-deb/lanet-agent_0.0.9_all.deb",
            "rollback": True,
        },
    )
    store.close()
    worker = subprocess.run(
        [sys.executable, "-m", "lanet.agent.update.worker", "--home", str(agent.home)],
        env=agent.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 1
    assert "0.0.9 is not newer than 0.1.0 and was not signed as a rollback" in worker.stderr
    # The backend out of reach: not a failure of the release, tried again in the next window.
    store = Store(paths.database, default_protector(paths.key_file, True))
    store.put(
        "update.offer",
        {"version": "0.2.0", "platform": "linux-deb", "target": "linux-deb/lanet-agent_0.2.0_all.deb"},
    )
    store.close()
    config_file = agent.home / "config" / "agent_config.json"
    config = json.loads(config_file.read_text())
    config["backend"]["url"] = f"http://127.0.0.1:{free_port()}/api"
    config_file.write_text(json.dumps(config))
    offline = subprocess.run(
        [sys.executable, "-m", "lanet.agent.update.worker", "--home", str(agent.home)],
        env=agent.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert offline.returncode == 1 and "trying again in the next window" in offline.stderr, offline.stderr
    store = Store(paths.database, default_protector(paths.key_file, True))
    queued = [item.payload for item in store.pending_items("update_report")]
    store.close()
    assert queued[-1]["state"] == "downloading" and "tried again in the next window" in queued[-1]["reason"]
    # A development install (no package platform) says so instead of trying.
    dev = subprocess.run(
        [sys.executable, "-m", "lanet.agent.update.worker", "--home", str(agent.home)],
        env={k: v for k, v in agent.env.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dev.returncode == 1 and "self-update not supported for this install" in dev.stderr
    shutil.rmtree(lib)
