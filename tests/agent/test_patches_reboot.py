"""The reboot that installed updates wait for: each policy on the test's clock, the user's answers
through the real local service, what the server is told at each step, and the verification once
the machine booted again (against this machine's real dpkg). The OS restart itself is the one part
replaced: a test cannot restart the machine it runs on, so the restart callable records the call."""

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.config import make_config
from lanet.agent.local.service import Caller, LocalService
from lanet.agent.patches import REPORTS, manager, reboot
from lanet.agent.patches.install import Apt
from lanet.agent.patches.verify import verify_after_reboot
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.protocol import contract

ASSET = "0b7f6a0e-4c31-4f0e-9d7e-000000000001"
#: A Friday; the window is 02:00 for 120 min every day.
INSIDE = datetime(2026, 12, 4, 2, 30)
OUTSIDE = datetime(2026, 12, 4, 12, 0)


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.now = 1_000_000.0
        self.boot = 900_000.0
        self.local = OUTSIDE
        self.restarts: list[tuple[int, str]] = []
        self.refuse = False
        self.reboots = reboot.Reboots(
            store,
            lambda: ASSET,
            lambda: None,
            clock=lambda: self.now,
            local_now=lambda: self.local,
            boot_time=lambda: self.boot,
            restart=self.restart,
        )

    def restart(self, seconds: int, message: str) -> None:
        if self.refuse:
            raise OSError("shutdown: Access denied")
        self.restarts.append((seconds, message))

    def reports(self) -> list[dict[str, Any]]:
        return [item.payload for item in self.store.pending_items(REPORTS.name)]


def _plan(policy: str, **extra: Any) -> dict[str, Any]:
    return {
        "revision": "r1",
        "window_start": "02:00",
        "window_minutes": 120,
        "window_days": [0, 1, 2, 3, 4, 5, 6],
        "install": ["linux-image-amd64=6.1.119-1", "curl=7.88.1-10+deb12u9"],
        "reboot": policy,
        "reboot_deadline_hours": 8,
        "max_deferrals": 2,
        **extra,
    }


RESULTS = [
    {"update_id": "linux-image-amd64=6.1.119-1", "state": "reboot_pending", "installed_version": "6.1.119-1"},
    {"update_id": "curl=7.88.1-10+deb12u9", "state": "installed", "installed_version": "7.88.1-10+deb12u9"},
]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(Store(tmp_path / "agent.db", PlainProtector()))


def _record(world: World, policy: str) -> dict[str, Any]:
    pending = reboot.record_pending(world.store, _plan(policy), RESULTS, now=world.now, boot=world.boot)
    assert pending is not None
    return pending


def test_only_updates_that_need_it_wait_and_a_run_without_any_records_nothing(world: World) -> None:
    installed = [{**RESULTS[1]}]
    assert reboot.record_pending(world.store, _plan("in_window"), installed, now=1, boot=1) is None
    assert world.store.get(reboot.AWAITING) is None
    pending = _record(world, "in_window")
    assert [u["update_id"] for u in pending["updates"]] == ["linux-image-amd64=6.1.119-1"]
    assert pending["deadline"] == world.now + 8 * 3600
    # A second run before the reboot adds its updates and keeps the first deadline.
    world.now += 3600
    later = [{"update_id": "libc6=2.36-9+deb12u9", "state": "reboot_pending"}]
    both = reboot.record_pending(world.store, _plan("in_window"), later, now=world.now, boot=world.boot)
    assert both is not None
    assert [u["update_id"] for u in both["updates"]] == [
        "linux-image-amd64=6.1.119-1",
        "libc6=2.36-9+deb12u9",
    ]
    assert both["deadline"] == pending["deadline"]


def test_in_window_restarts_inside_the_window_only_once_and_says_so(world: World) -> None:
    _record(world, "in_window")
    world.reboots.tick()
    assert world.restarts == []  # outside the window
    world.local = INSIDE
    world.reboots.tick()
    assert [s for s, _m in world.restarts] == [reboot.WARN_SECONDS]
    assert "reiniciará" in world.restarts[0][1]
    world.now += 60
    world.reboots.tick()
    assert len(world.restarts) == 1  # started; the OS is on its way
    (report,) = world.reports()
    assert contract.validate("PatchReport", report)
    assert report["reboot"]["action"] == "restarting" and report["reboot"]["trigger"] == "window"
    assert {r["state"] for r in report["results"]} == {"reboot_pending"}


def test_a_restart_the_os_refused_or_that_never_came_is_tried_again_after_the_grace(world: World) -> None:
    _record(world, "in_window")
    world.local = INSIDE
    world.refuse = True
    world.reboots.tick()
    assert world.restarts == [] and world.reports() == []
    world.refuse = False
    world.reboots.tick()
    assert world.restarts == []  # waits for the grace period
    world.now += reboot.RESTART_GRACE + 1
    world.reboots.tick()
    assert len(world.restarts) == 1
    world.now += reboot.RESTART_GRACE + 1  # still the same boot: cancelled with shutdown /a
    world.reboots.tick()
    assert len(world.restarts) == 2


def test_never_means_never_even_in_the_window_and_past_any_deadline(world: World) -> None:
    _record(world, "never")
    world.local = INSIDE
    world.now += 30 * 24 * 3600
    world.reboots.tick()
    assert world.restarts == [] and world.reboots.prompt() is None and world.reports() == []


def _ask(service: LocalService, op: str, account: str = "maria") -> dict[str, Any]:
    """The answer line as the tray reads it: ``result`` (the data) or ``error``."""
    reply = json.loads(service.handle(Caller(account), op, {}))
    return {"result": reply["data"]} if reply["ok"] else {"error": reply["error"]}


class _Desk:
    def mine_summary(self, _caller: Caller) -> dict[str, Any]:
        return {"open_count": 0}


def _service(world: World, syncs: list[int]) -> LocalService:
    return LocalService(
        _Desk(),  # type: ignore[arg-type]
        lambda: {"state": "online"},
        lambda: syncs.append(1),
        reboots=world.reboots,
    )


def test_ask_user_asks_lets_the_user_defer_a_bounded_number_of_times_then_restarts_at_the_deadline(
    world: World,
) -> None:
    _record(world, "ask_user")
    syncs: list[int] = []
    service = _service(world, syncs)
    world.reboots.tick()
    status = _ask(service, "status")["result"]
    assert status["reboot"]["deferrals_left"] == 2 and status["reboot"]["defer_minutes"] == 60
    assert world.reports()[-1]["reboot"]["action"] == "asked"
    assert _ask(service, "reboot_later")["result"]["deferrals_left"] == 1
    assert syncs == [1]
    deferred = world.reports()[-1]["reboot"]
    assert (deferred["action"], deferred["trigger"], deferred["account"], deferred["deferrals"]) == (
        "deferred",
        "user",
        "maria",
        1,
    )
    assert _ask(service, "status")["result"]["reboot"] is None  # not asked again for an hour
    world.now += reboot.DEFER_FOR
    world.reboots.tick()
    assert _ask(service, "status")["result"]["reboot"]["deferrals_left"] == 1
    _ask(service, "reboot_later")
    world.now += reboot.DEFER_FOR
    assert _ask(service, "status")["result"]["reboot"]["deferrals_left"] == 0
    refused = _ask(service, "reboot_later")
    assert refused["error"] == "el reinicio ya no se puede posponer"
    assert world.restarts == []
    world.now = world.store.get(reboot.AWAITING)["deadline"]
    world.reboots.tick()
    assert len(world.restarts) == 1
    assert world.reports()[-1]["reboot"]["trigger"] == "deadline"


def test_the_user_restarts_now_and_the_report_names_them(world: World) -> None:
    _record(world, "ask_user")
    syncs: list[int] = []
    service = _service(world, syncs)
    assert _ask(service, "reboot_now", "OFICINA\\juan")["result"] == {"restarting_in": reboot.WARN_SECONDS}
    last = world.reports()[-1]["reboot"]
    assert (last["action"], last["trigger"], last["account"]) == ("restarting", "user", "OFICINA\\juan")
    assert _ask(service, "status")["result"]["reboot"] is None


def test_nothing_pending_is_a_clear_answer_not_an_error(world: World) -> None:
    service = _service(world, [])
    assert _ask(service, "status")["result"]["reboot"] is None
    assert _ask(service, "reboot_now")["error"] == "no hay un reinicio pendiente"
    assert _ask(service, "reboot_later")["error"] == "no hay un reinicio que espere respuesta"
    bare = LocalService(_Desk(), lambda: {}, lambda: None)  # type: ignore[arg-type]
    assert _ask(bare, "reboot_now")["error"] == "no hay un reinicio pendiente"


def _installed(package: str) -> str:
    version = Apt().installed_version(package)
    assert version, f"{package} is not installed on this machine"
    return version


def test_after_the_reboot_each_update_is_verified_against_the_package_database(world: World) -> None:
    bash = _installed("bash")
    updates = [
        {"update_id": f"bash={bash}", "state": "reboot_pending"},
        {"update_id": "dpkg=0.0-1", "state": "reboot_pending"},
    ]
    pending = reboot.record_pending(world.store, _plan("in_window"), updates, now=world.now, boot=world.boot)
    assert pending is not None
    world.local = INSIDE
    world.reboots.tick()
    world.boot += 3600  # the machine came back
    assert world.reboots.rebooted() and world.reboots.prompt() is None
    report = verify_after_reboot(world.store, ASSET)
    assert report is not None
    states = {r["update_id"]: r for r in report["results"]}
    assert states[f"bash={bash}"]["state"] == "verified"
    assert states["dpkg=0.0-1"]["state"] == "not_upgraded"
    assert _installed("dpkg") in states["dpkg=0.0-1"]["reason"]
    assert (report["reboot"]["action"], report["reboot"]["trigger"]) == ("rebooted", "window")
    assert world.store.get(reboot.AWAITING) is None
    assert verify_after_reboot(world.store, ASSET) is None


def test_the_service_verifies_once_per_boot_before_installing_anything_new(
    tmp_path: Path, world: World
) -> None:
    config = make_config({"agent": {"asset_id": ASSET}})
    patches = manager.Patches(
        world.store,
        lambda: config,
        AgentPaths.for_home(tmp_path / "agent"),
        True,
        lambda: None,
        clock=lambda: world.now,
        local_now=lambda: world.local,
        command=[
            sys.executable,
            "-c",
            "import sys; open(sys.argv[2], 'a').write(sys.argv[1] + '\\n')",
        ],
        reboots=world.reboots,
    )
    actions = tmp_path / "actions"
    patches.home = [str(actions)]
    _record(world, "never")
    world.store.put(manager.PLAN, {**_plan("never", revision="r2"), "now": True})
    world.boot += 3600
    patches.tick()
    assert patches._proc is not None
    patches._proc.wait(30)
    patches.tick()  # reaps it; the install is next
    assert patches._proc is not None
    patches._proc.wait(30)
    patches.tick()
    if patches._proc is not None:
        patches._proc.wait(30)
    assert actions.read_text().split()[:2] == ["verify", "install"]
    assert world.store.get(manager.VERIFIED_BOOT) == world.boot


def test_a_machine_that_forbids_restarts_is_never_restarted_and_the_server_is_told_once(world: World) -> None:
    forbidden = reboot.Reboots(
        world.store,
        lambda: ASSET,
        lambda: None,
        clock=lambda: world.now,
        local_now=lambda: INSIDE,
        boot_time=lambda: world.boot,
        restart=world.restart,
        allowed=lambda: False,
    )
    _record(world, "in_window")
    forbidden.tick()
    forbidden.tick()
    world.now += 30 * 24 * 3600
    forbidden.tick()
    assert world.restarts == []
    assert [r["reboot"]["action"] for r in world.reports()] == ["blocked"]
