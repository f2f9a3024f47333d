"""A technician's "scan now": kept until a scan comes back, carried by the heartbeat's answer.

The heartbeat asks :meth:`ScanRequests.wanted`, which reads a per-process copy of the open
requests (refreshed every few seconds, as the rollouts are): a heartbeat costs no query of its own.
A request is carried once, and again only if no scan came back within :data:`RESEND_AFTER`.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lanet.server.db import Database
from lanet.server.models import Asset, PatchScanRequest
from lanet.server.services import audit

CACHE_SECONDS = 5.0
RESEND_AFTER = timedelta(minutes=10)


@dataclass
class _Open:
    #: asset id -> when the request was last carried (None: not yet).
    delivered: dict[str, datetime | None] = field(default_factory=dict)
    loaded_at: float = 0.0


class ScanRequests:
    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._open = _Open()
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._open = _Open()

    def _current(self, db: Database) -> _Open:
        current = self._open
        if current.loaded_at and time.monotonic() - current.loaded_at < self.seconds:
            return current
        with self._lock:
            if self._open is current:
                with db.engine.connect() as conn:
                    rows = conn.execute(select(PatchScanRequest.asset_id, PatchScanRequest.delivered_at))
                    self._open = _Open({asset: at for asset, at in rows}, time.monotonic())
            return self._open

    def wanted(self, db: Database, asset_id: str, now: datetime) -> bool:
        """Whether this heartbeat's answer should ask for a scan (and, if so, note that it did)."""
        current = self._current(db)
        if asset_id not in current.delivered:
            return False
        delivered = current.delivered[asset_id]
        if delivered is not None and now - delivered < RESEND_AFTER:
            return False
        current.delivered[asset_id] = now
        with db.engine.begin() as conn:
            conn.execute(
                update(PatchScanRequest).where(PatchScanRequest.asset_id == asset_id).values(delivered_at=now)
            )
        return True


def request_scan(
    session: Session,
    asset: Asset,
    *,
    actor: str,
    now: datetime,
    install_now: bool = False,
    audited: bool = True,
) -> None:
    """Ask the asset's agent for a scan at its next heartbeat; the plan that answers the scan says
    what to install (at once, with ``install_now``). Audited when a technician asked for it."""
    record = session.get(PatchScanRequest, asset.id)
    if record is None:
        record = PatchScanRequest(
            asset_id=asset.id, requested_at=now, requested_by=actor, install_now=install_now
        )
        session.add(record)
    else:
        record.requested_at, record.requested_by, record.delivered_at = now, actor, None
        record.install_now = record.install_now or install_now
    if audited:
        audit.record(
            session,
            actor=actor,
            action="patches.install_now" if install_now else "patches.scan_requested",
            target_type="asset",
            target_id=asset.id,
            client_id=asset.client_id,
            details={"computer_name": asset.computer_name},
        )
