"""When the service starts its update worker: inside the update window, at once when a technician
said "now", once per window per version, never when updates are off or the install cannot update."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.config import make_config
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.agent.update import manager
from lanet.agent.update.schedule import in_window, window_start

OFFER = {"version": "0.2.0", "platform": "linux-deb", "target": "linux-deb/lanet-agent_0.2.0_all.deb"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.local = datetime(2026, 12, 2, 2, 30)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "agent.db", PlainProtector())


def _updates(store: Store, clock: Clock, **updates: Any) -> manager.Updates:
    paths = AgentPaths.for_home(Path(str(store.path)).parent)
    config = make_config({"updates": updates})
    return manager.Updates(
        store,
        lambda: config,
        paths,
        False,
        lambda: None,
        clock=lambda: clock.now,
        local_now=lambda: clock.local,
    )


def test_the_window_follows_the_schedule_and_crosses_midnight() -> None:
    assert in_window("02:00", 120, datetime(2026, 12, 2, 2, 0))
    assert in_window("02:00", 120, datetime(2026, 12, 2, 3, 59))
    assert not in_window("02:00", 120, datetime(2026, 12, 2, 4, 0))
    assert not in_window("02:00", 120, datetime(2026, 12, 2, 1, 59))
    assert in_window("23:30", 60, datetime(2026, 12, 3, 0, 10))
    assert window_start("23:30", datetime(2026, 12, 3, 0, 10)) == datetime(2026, 12, 2, 23, 30)


def test_started_in_the_window_once_per_window(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager, "package_platform", lambda: "linux-deb")
    clock = Clock()
    updates = _updates(store, clock)
    assert updates.due() is None  # nothing offered
    updates.answered(OFFER)
    assert updates.due() == OFFER
    assert updates.due() is None  # attempted in this window already
    clock.local = datetime(2026, 12, 2, 12, 0)
    clock.now += manager.RETRY_AFTER
    assert updates.due() is None  # outside the window
    clock.local = datetime(2026, 12, 3, 2, 5)
    assert updates.due() == OFFER  # the next window tries again
    updates.answered({**OFFER, "version": "0.3.0"})
    assert updates.due() == {**OFFER, "version": "0.3.0"}  # a new version is a new attempt


def test_now_starts_outside_the_window_and_off_or_unsupported_never(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    clock.local = datetime(2026, 12, 2, 15, 0)
    monkeypatch.setattr(manager, "package_platform", lambda: "linux-deb")
    updates = _updates(store, clock)
    updates.answered(OFFER)
    assert updates.due() is None
    updates.answered({**OFFER, "now": True})
    assert updates.due() == {**OFFER, "now": True}  # the technician's "now" beats the earlier attempt
    assert updates.due() is None
    off = _updates(store, clock, enabled=False)
    store.put(manager.ATTEMPT, None)
    assert off.due() is None
    monkeypatch.setattr(manager, "package_platform", lambda: None)
    assert _updates(store, clock).due() is None


def test_the_offer_is_kept_across_restarts_and_cleared_when_withdrawn(store: Store) -> None:
    clock = Clock()
    _updates(store, clock).answered(OFFER)
    assert store.get(manager.OFFER) == OFFER
    _updates(store, clock).answered(None)
    assert store.get(manager.OFFER) is None
