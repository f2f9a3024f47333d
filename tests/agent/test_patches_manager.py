"""When the service starts its scan worker, and what happens to one that hangs: killed at the hard
timeout, the server told why, tried again a bounded number of times. Real processes; the clock is
the test's."""

import sys
from datetime import datetime
from pathlib import Path

import pytest

from lanet.agent.config import make_config
from lanet.agent.patches import SCAN_REQUESTED, manager
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store

ASSET = "0b7f6a0e-4c31-4f0e-9d7e-000000000001"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _patches(
    tmp_path: Path,
    store: Store,
    clock: Clock,
    script: str,
    registered: bool = True,
    local: list[datetime] | None = None,
) -> manager.Patches:
    config = make_config({"agent": {"asset_id": ASSET if registered else None}})
    return manager.Patches(
        store,
        lambda: config,
        AgentPaths.for_home(tmp_path / "agent"),
        True,
        lambda: None,
        clock=clock,
        local_now=lambda: (local or [datetime(2026, 12, 4, 12, 0)])[0],
        command=[sys.executable, "-c", script],
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "agent.db", PlainProtector())


def _wait_exit(patches: manager.Patches) -> None:
    assert patches._proc is not None
    patches._proc.wait(30)


def test_a_scan_runs_at_start_then_every_six_hours_or_when_asked(tmp_path: Path, store: Store) -> None:
    clock = Clock()
    patches = _patches(tmp_path, store, clock, "pass")
    patches.tick()
    first = patches._proc
    assert first is not None
    _wait_exit(patches)
    patches.tick()  # reaps the worker; not due again
    assert patches._proc is None
    clock.now += manager.SCAN_EVERY - 60
    patches.tick()
    assert patches._proc is None
    patches.request()
    assert store.get(SCAN_REQUESTED) is True
    patches.tick()
    assert patches._proc is not None and store.get(SCAN_REQUESTED) is False
    _wait_exit(patches)


def test_a_hung_scan_is_killed_reported_and_retried_a_bounded_number_of_times(
    tmp_path: Path, store: Store
) -> None:
    clock = Clock()
    patches = _patches(tmp_path, store, clock, "import time; time.sleep(600)")
    for attempt in range(1, manager.MAX_RETRIES + 2):
        patches.tick()
        hung = patches._proc
        assert hung is not None, attempt
        clock.now += manager.SCAN_TIMEOUT + 1
        patches.tick()  # past the timeout: killed
        assert hung.poll() is not None and patches._proc is None
        assert store.get(manager.FAILURES) == attempt
        clock.now += manager.RETRY_AFTER - 1
        patches.tick()
        assert patches._proc is None  # not before RETRY_AFTER
        clock.now += 1
    reports = store.pending_items("patch_scan")
    assert len(reports) == manager.MAX_RETRIES + 1
    assert reports[0].payload["error"] == "the scan did not finish within 30 min and was stopped"
    assert reports[0].payload["items"] == [] and reports[0].payload["asset_id"] == ASSET
    # Past the retries, the next attempt waits for the regular interval.
    clock.now += manager.RETRY_AFTER
    patches.tick()
    assert patches._proc is None
    clock.now += manager.SCAN_EVERY
    patches.tick()
    assert patches._proc is not None
    patches._proc.kill()
    patches._proc.wait(10)


def test_an_agent_not_registered_scans_nothing(tmp_path: Path, store: Store) -> None:
    patches = _patches(tmp_path, store, Clock(), "pass", registered=False)
    patches.request()
    patches.tick()
    assert patches._proc is None


PLAN = {
    "revision": "r1",
    "window_start": "02:00",
    "window_minutes": 120,
    "window_days": [0, 1, 2, 3, 4, 5, 6],
    "install": ["openssl=3.0.15"],
    "now": False,
    "reboot": "never",
    "reboot_deadline_hours": 24,
    "max_deferrals": 3,
}


def _answer(patches: manager.Patches, plan: dict[str, object] | None) -> None:
    patches.delivered({}, {"applicable": 1, "plan": plan}, {})


def test_the_plan_is_installed_inside_the_window_once_per_window_and_at_once_when_asked(
    tmp_path: Path, store: Store
) -> None:
    clock, local = Clock(), [datetime(2026, 12, 4, 12, 0)]
    store.put(manager.LAST_ATTEMPT, clock.now)  # scanned just now: only installs are due
    patches = _patches(tmp_path, store, clock, "import sys; sys.exit(0)", local=local)
    _answer(patches, PLAN)
    assert store.get(manager.PLAN) == {
        **PLAN,
        "pre_script": None,
        "post_script": None,
        "windows_auto_update": "leave",
    }
    patches.tick()
    assert patches._proc is None  # noon: outside the 02:00 window
    local[0] = datetime(2026, 12, 5, 2, 30)
    patches.tick()
    assert patches._proc is not None and patches._proc.args[-3] == "install"
    # Once per window, whatever the worker did; after it, a scan tells the server what is now.
    _wait_exit(patches)
    patches.tick()
    assert patches._proc is not None and patches._proc.args[-3] == "scan"
    _wait_exit(patches)
    patches.tick()
    assert patches._proc is None
    # The agent was off the next night: it installs in the window after (a new window, the same plan).
    local[0] = datetime(2026, 12, 7, 3, 0)
    patches.tick()
    assert patches._proc is not None and patches._proc.args[-3] == "install"
    _wait_exit(patches)
    patches.tick()  # the scan after it
    _wait_exit(patches)
    patches.tick()
    # "Install now": at once, outside the window, once.
    local[0] = datetime(2026, 12, 7, 15, 0)
    _answer(patches, {**PLAN, "revision": "r2", "now": True})
    patches.tick()
    assert patches._proc is not None and patches._proc.args[-3] == "install"
    _wait_exit(patches)
    patches.tick()  # the scan after it
    _wait_exit(patches)
    patches.tick()
    assert patches._proc is None


def test_a_bad_plan_in_the_answer_is_ignored(tmp_path: Path, store: Store) -> None:
    patches = _patches(tmp_path, store, Clock(), "pass")
    _answer(patches, {**PLAN, "window_start": "2 am"})
    _answer(patches, {**PLAN, "install": ["not a valid id!"]})
    assert store.get(manager.PLAN) is None


def test_a_plan_that_changes_the_windows_update_settings_brings_a_scan_that_applies_and_reports_them(
    tmp_path: Path, store: Store
) -> None:
    patches = _patches(tmp_path, store, Clock(), "pass")
    _answer(patches, PLAN)
    assert not store.get(SCAN_REQUESTED)
    _answer(patches, {**PLAN, "revision": "r2", "windows_auto_update": "disable"})
    assert store.get(SCAN_REQUESTED) is True
    store.put(SCAN_REQUESTED, False)
    _answer(patches, {**PLAN, "revision": "r3", "windows_auto_update": "disable", "install": []})
    assert not store.get(SCAN_REQUESTED)  # the same setting: no extra scan
    _answer(patches, {**PLAN, "revision": "r4"})  # back to leave: the scan restores them
    assert store.get(SCAN_REQUESTED) is True
