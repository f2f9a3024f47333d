"""Who is offered which release: rollouts by ring, scope and state, and what agents report back.

An asset's ring is a stable hash of its id (0-9999), the same for every release, so a 5 % ring is
the same 5 % of machines each time (a canary group people learn to trust), and widening a rollout
only adds machines. The heartbeat asks :func:`offer_for`, which reads a per-process cache of the
active rollouts (refreshed every few seconds): a heartbeat costs no query of its own, and only an
asset's first offer of a release is written.
"""

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from lanet.protocol.releases import UpdateOffer
from lanet.protocol.values import FINAL_UPDATE_STATES
from lanet.protocol.versions import is_newer, is_version, version_key
from lanet.server.db import Database
from lanet.server.models import AssetUpdate, Release, Rollout

RINGS = 10_000
#: How long a process serves heartbeats from its copy of the rollouts.
CACHE_SECONDS = 5.0


def ring(asset_id: str) -> int:
    return int.from_bytes(hashlib.sha256(asset_id.encode()).digest()[:4], "big") % RINGS


def in_ring(asset_id: str, percent: int) -> bool:
    return ring(asset_id) < percent * (RINGS // 100)


@dataclass(frozen=True)
class _Active:
    release_id: str
    version: str
    platform: str
    target: str
    rollback: bool
    client_id: str | None
    site_id: str | None
    percent: int
    now: bool


@dataclass
class _Snapshot:
    rollouts: list[_Active] = field(default_factory=list)
    #: release id -> assets done with it (healthy, rolled back, failed): not offered again.
    done: dict[str, set[str]] = field(default_factory=dict)
    #: release id -> assets already recorded as offered (or further).
    known: dict[str, set[str]] = field(default_factory=dict)
    #: (version, platform) -> target, of every release: an agent's way back to what it runs.
    targets: dict[tuple[str, str], str] = field(default_factory=dict)
    loaded_at: float = 0.0


class RolloutCache:
    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._snapshot = _Snapshot()
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = _Snapshot()

    def get(self, db: Database) -> _Snapshot:
        current = self._snapshot
        if current.loaded_at and time.monotonic() - current.loaded_at < self.seconds:
            return current
        with self._lock:
            if self._snapshot is current:
                with db.engine.connect() as conn:
                    self._snapshot = _load(conn)
            return self._snapshot


def _load(conn: Connection) -> _Snapshot:
    rows = conn.execute(
        select(
            Release.id,
            Release.version,
            Release.platform,
            Release.target,
            Release.rollback,
            Rollout.client_id,
            Rollout.site_id,
            Rollout.percent,
            Rollout.now,
        )
        .join(Rollout, Rollout.release_id == Release.id)
        .where(Rollout.paused.is_(False), Rollout.percent > 0)
    ).all()
    snapshot = _Snapshot(rollouts=[_Active(*row) for row in rows], loaded_at=time.monotonic())
    if snapshot.rollouts:
        snapshot.targets = {
            (version, platform): target
            for version, platform, target in conn.execute(
                select(Release.version, Release.platform, Release.target)
            )
        }
    ids = {row.release_id for row in snapshot.rollouts}
    if ids:
        for asset_id, release_id, state in conn.execute(
            select(AssetUpdate.asset_id, AssetUpdate.release_id, AssetUpdate.state).where(
                AssetUpdate.release_id.in_(ids)
            )
        ):
            snapshot.known.setdefault(release_id, set()).add(asset_id)
            if state in FINAL_UPDATE_STATES:
                snapshot.done.setdefault(release_id, set()).add(asset_id)
    return snapshot


def _applies(
    active: _Active, asset_id: str, client_id: str, site_id: str, platform: str, running: str
) -> bool:
    if active.platform != platform or active.version == running:
        return False
    if active.client_id is not None and active.client_id != client_id:
        return False
    if active.site_id is not None and active.site_id != site_id:
        return False
    if not active.rollback and not is_newer(active.version, running):
        return False
    return in_ring(asset_id, active.percent)


def offer_for(
    db: Database,
    cache: RolloutCache,
    *,
    asset_id: str,
    client_id: str,
    site_id: str,
    platform: str | None,
    running: str | None,
    now: datetime,
) -> UpdateOffer | None:
    """The release this asset should install now, if any; the first offer is recorded."""
    if platform is None or running is None or not is_version(running):
        return None
    snapshot = cache.get(db)
    candidates = [
        active
        for active in snapshot.rollouts
        if asset_id not in snapshot.done.get(active.release_id, ())
        and _applies(active, asset_id, client_id, site_id, platform, running)
    ]
    if not candidates:
        return None
    # A rollback release wins (it is what the technician wants now); otherwise the newest.
    best = max(candidates, key=lambda a: (a.rollback, version_key(a.version), a.now))
    if asset_id not in snapshot.known.get(best.release_id, ()):
        with db.engine.begin() as conn:
            _record_offer(conn, asset_id, best.release_id, running, now)
        snapshot.known.setdefault(best.release_id, set()).add(asset_id)
    return UpdateOffer(
        version=best.version,
        platform=best.platform,  # type: ignore[arg-type]
        target=best.target,
        rollback=best.rollback,
        now=best.now,
        previous_target=snapshot.targets.get((running, platform)),
    )


def _record_offer(conn: Connection, asset_id: str, release_id: str, running: str, now: datetime) -> None:
    table = cast(Table, AssetUpdate.__table__)
    values = {
        "asset_id": asset_id,
        "release_id": release_id,
        "state": "offered",
        "from_version": running,
        "offered_at": now,
        "updated_at": now,
    }
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())
