"""Self-update of the MSI-installed service, through the same flow as the .deb: the lane has
published N, N+1 and N+2 (signed with its offline release key; every MSI trusts its root). The
installed N updates itself to N+1 as a major upgrade run detached from the service; N+2, whose agent
dies after its service starts, never heartbeats, so the health gate puts N+1 back (an MSI downgrade)
and the server pauses the rollout.

The lane passes the releases' versions and a technician's API key for the lane's server.
"""

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from installed import BIN, CONFIG, ROOT, log_text, msiexec, products, status
from tests.e2e.agents import wait_for

from lanet.agent.windows import marker
from lanet.agent.windows import service as winservice


def _api(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the lane's server
        os.environ["LANET_LANE_SERVER"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Authorization": f"Bearer {os.environ['LANET_LANE_API_KEY']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the lane's server
        return dict(json.loads(answer.read())["data"])


def _asset_state(version: str) -> dict[str, Any] | None:
    assets = _api("GET", f"/admin/releases/{version}")["assets"]
    return assets[0] if assets else None


def _heartbeats_as(version: str, after: str | None) -> bool:
    report = status()
    return bool(report.get("version") == version and report.get("last_heartbeat") not in (None, after))


@pytest.fixture
def installed_n(tmp_path: Path) -> Iterator[str]:
    """N installed from its MSI and heartbeating, tuned for a short test; removed with its data after."""
    assert winservice.status() is None and not products() and marker.registered_asset() is None
    log = tmp_path / "install.log"
    server, token = os.environ["LANET_LANE_SERVER"], os.environ["LANET_LANE_TOKEN"]
    code = msiexec(
        "/i",
        os.environ["LANET_LANE_MSI"],
        f"SERVER={server}",
        "ALLOW_INSECURE_HTTP=1",
        f"TOKEN={token}",
        log=log,
    )
    assert code == 0, log_text(log)[-3000:]
    wait_for(lambda: status().get("last_heartbeat"), 120, "a first heartbeat")
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    config.setdefault("heartbeat", {})["interval"] = 5
    config.setdefault("backend", {}).update(retry_delay=1, timeout=5)
    config.setdefault("updates", {})["health_timeout"] = 30
    CONFIG.write_text(json.dumps(config), encoding="utf-8")
    winservice.stop()
    winservice.start()
    assert marker.registered_asset() == config["agent"]["asset_id"]
    yield config["agent"]["asset_id"]
    for code_name in products():
        msiexec("/x", code_name, "REMOVEDATA=1", log=tmp_path / "purge.log")
    assert marker.registered_asset() is None


def test_the_installed_service_updates_itself_and_a_broken_release_is_rolled_back(installed_n: str) -> None:
    version = status()["version"]
    n1, n2 = os.environ["LANET_LANE_MSI_NEXT_VERSION"], os.environ["LANET_LANE_MSI_BROKEN_VERSION"]
    wait_for(lambda: _heartbeats_as(version, None), 120, "N heartbeating")

    # N -> N+1, at once: downloaded with the signed metadata, installed by the detached installer.
    _api("POST", f"/admin/releases/{n1}/rollout", {"percent": 100, "now": True})
    done = wait_for(
        lambda: (s := _asset_state(n1)) and s["state"] in ("healthy", "failed", "rolled_back") and s,
        360,
        "N+1 installed and healthy",
    )
    assert done["state"] == "healthy", done
    assert (done["asset_id"], done["running_version"]) == (installed_n, n1)
    assert list(products().values()) == [n1]
    assert winservice.status() == "running"
    # The previous MSI stays in the cache, the way back; the installer ran from a copy of bin\.
    packages = ROOT / "data" / "cache" / "updates" / "packages"
    next_msi = os.environ["LANET_LANE_MSI_NEXT"].rsplit("\\", 1)[-1]
    assert any(p.name.endswith(next_msi) for p in packages.iterdir()), list(packages.iterdir())
    assert not (ROOT / "data" / "cache" / "updates" / "installer" / "agent-service.exe").exists()
    assert (BIN / "agent-service.exe").exists()

    # N+2 installs, but its agent never heartbeats: the health gate puts N+1 back.
    before = status().get("last_heartbeat")
    _api("POST", f"/admin/releases/{n2}/rollout", {"percent": 100, "now": True})
    outcome = wait_for(
        lambda: (s := _asset_state(n2)) and s["state"] in ("rolled_back", "failed") and s,
        480,
        "the broken release rolled back",
    )
    assert outcome["state"] == "rolled_back", outcome
    assert f"{n2} did not complete a heartbeat within 30 s; {n1} reinstalled" in outcome["reason"]
    rollout = _api("GET", f"/admin/releases/{n2}")["rollouts"][0]
    assert rollout["paused"] and "over the 2 % threshold" in rollout["paused_reason"]
    assert list(products().values()) == [n1]
    wait_for(lambda: _heartbeats_as(n1, before), 180, "N+1 back and heartbeating")
    assert winservice.status() == "running"
