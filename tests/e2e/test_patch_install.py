"""The agent's apt path for real, in a throwaway Debian root made with debootstrap, with a local
apt repository of dummy packages inside it: the patch worker scans and sees the updates, refuses to
install outside the maintenance window, installs inside it, verifies each update against dpkg, and
reports each one; a package the plan leaves out (a denied one) stays as it was, and one update that
cannot install does not keep the others from it. Needs root (chroot, mounts)."""

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.config import make_config, save_config
from lanet.agent.patches import PLAN
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from tests.patch_root import PatchRoot, patch_root

# The first test may build the Debian root (debootstrap: about a minute, longer on a slow mirror).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]
ASSET = "0b7f6a0e-4c31-4f0e-9d7e-000000000001"


@pytest.fixture
def root(tmp_path: Path) -> Iterator[PatchRoot]:
    assert os.geteuid() == 0, "the throwaway root needs root (chroot and mounts); CI runs as root"
    with patch_root(tmp_path) as made:
        made.publish(
            {"lanet-dummy": ["1.0", "1.1"], "lanet-denied": ["1.0", "2.0"]},
            installed={"lanet-dummy": "1.0", "lanet-denied": "1.0"},
        )
        yield made


def _agent(root: PatchRoot) -> Store:
    home = root.install_agent({})
    config = make_config(
        {
            "agent": {"asset_id": ASSET},
            "security": {"encryption_enabled": False},
            "scripts": {"allowed_types": ["bash"]},
        }
    )
    save_config(home / "config" / "agent_config.json", config)
    (home / "data").mkdir(parents=True, exist_ok=True)
    return Store(home / "data" / "agent.db", PlainProtector())


def _plan(start: datetime, install: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "revision": "r-test",
        "window_start": start.strftime("%H:%M"),
        "window_minutes": 60,
        "window_days": [0, 1, 2, 3, 4, 5, 6],
        "install": install,
        "now": False,
        "reboot": "never",
        "reboot_deadline_hours": 24,
        "max_deferrals": 3,
        **extra,
    }


def test_the_scan_in_the_root_sees_both_updates(root: PatchRoot) -> None:
    store = _agent(root)
    done = root.worker("scan")
    assert done.returncode == 0, done.stderr
    (scan,) = [item.payload for item in store.pending_items("patch_scan")]
    assert scan["source"] == "apt" and scan.get("error") is None, scan["error"]
    assert sorted((i["update_id"], i["classification"], i["downloaded"]) for i in scan["items"]) == [
        ("lanet-denied=2.0", "security", False),
        ("lanet-dummy=1.1", "security", False),
    ]


def test_updates_install_only_inside_the_window_each_verified_and_reported(root: PatchRoot) -> None:
    store = _agent(root)
    now = datetime.now()  # the root's clock is the host's, in UTC like this test's process
    # Outside the window: refused, nothing changes, nothing is reported.
    store.put(PLAN, _plan(now + timedelta(hours=3), ["lanet-dummy=1.1"]))
    refused = root.worker("install")
    assert refused.returncode == 3 and "outside the maintenance window" in refused.stderr, refused.stderr
    assert root.version("lanet-dummy") == "1.0" and store.pending_items("patch_report") == []

    # Inside it: the approved update installs; one that cannot (no such version) fails on its own;
    # the denied package, not in the plan, is left alone. The policy's scripts run around it.
    scripts = {
        "pre_script": {
            "type": "bash",
            "script": "dpkg-query -W -f='${Version}' lanet-dummy > /pre",
            "timeout": 60,
        },
        "post_script": {
            "type": "bash",
            "script": "dpkg-query -W -f='${Version}' lanet-dummy > /post",
            "timeout": 60,
        },
    }
    store.put(PLAN, _plan(now - timedelta(minutes=10), ["lanet-dummy=1.1", "lanet-dummy=9.9"], **scripts))
    done = root.worker("install")
    assert done.returncode == 1, done.stderr  # one of the two failed
    assert root.version("lanet-dummy") == "1.1" and root.version("lanet-denied") == "1.0"
    assert (root.path / "pre").read_text() == "1.0" and (root.path / "post").read_text() == "1.1"
    started, report = [item.payload for item in store.pending_items("patch_report")]
    assert {(r["update_id"], r["state"]) for r in started["results"]} == {
        ("lanet-dummy=1.1", "downloading"),
        ("lanet-dummy=9.9", "downloading"),
    }
    by_id = {r["update_id"]: r for r in report["results"]}
    assert by_id["lanet-dummy=1.1"]["state"] == "installed"
    assert by_id["lanet-dummy=1.1"]["installed_version"] == "1.1"
    assert by_id["lanet-dummy=9.9"]["state"] == "failed" and by_id["lanet-dummy=9.9"]["error_code"] == "100"
    assert "Version '9.9' for 'lanet-dummy' was not found" in by_id["lanet-dummy=9.9"]["reason"]
    assert report["plan_revision"] == "r-test" and report["reboot_pending"] is False
    assert "lanet-dummy" in report["dry_run"]
    assert [(run["phase"], run["status"], run["exit_code"]) for run in report["scripts"]] == [
        ("pre", "succeeded", 0),
        ("post", "succeeded", 0),
    ]
