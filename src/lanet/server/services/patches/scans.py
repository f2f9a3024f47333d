"""Scans received from agents: each asset's updates as its latest scan lists them, and the history.

A scan is recorded once (by its ``scan_id``: the agent sends it again after a lost answer). A scan
that failed (``error`` and no items) is history only: it says nothing about what is applicable. A
scan older than the asset's newest one (it waited in an outbox) is history only too. Otherwise each
listed update is inserted or refreshed, and an update the scan no longer lists is marked not
applicable (installed some other way, or superseded), with an event each time.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lanet.protocol.patches import PatchItem, PatchScan
from lanet.server.models import Asset, AssetPatch, PatchEvent, PatchScanRecord, PatchScanRequest
from lanet.server.services import audit

#: Counted as "security" in a scan's summary and the compliance view.
SECURITY_CLASSES = ("critical", "security")
_ITEM_FIELDS = (
    "source",
    "title",
    "kb",
    "package",
    "current_version",
    "available_version",
    "classification",
    "severity",
    "size_bytes",
    "reboot_required",
    "downloaded",
    "origin",
)


def _event(session: Session, asset_id: str, update_id: str, state: str, reason: str, now: datetime) -> None:
    session.add(
        PatchEvent(asset_id=asset_id, update_id=update_id, state=state, reason=reason, actor="agent", at=now)
    )


def _apply(session: Session, asset_id: str, items: list[PatchItem], now: datetime) -> None:
    rows = {
        row.update_id: row
        for row in session.scalars(select(AssetPatch).where(AssetPatch.asset_id == asset_id))
    }
    listed = set()
    for item in items:
        listed.add(item.update_id)
        values = {name: getattr(item, name) for name in _ITEM_FIELDS}
        row = rows.get(item.update_id)
        if row is None:
            session.add(
                AssetPatch(
                    asset_id=asset_id,
                    update_id=item.update_id,
                    state="available",
                    applicable=True,
                    first_seen=now,
                    last_seen=now,
                    updated_at=now,
                    **values,
                )
            )
            _event(session, asset_id, item.update_id, "available", "listed by a scan", now)
            continue
        for name, value in values.items():
            setattr(row, name, value)
        row.last_seen = now
        if not row.applicable:
            row.applicable, row.updated_at = True, now
            _event(session, asset_id, item.update_id, row.state, "listed again by a scan", now)
    for update_id, row in rows.items():
        if row.applicable and update_id not in listed:
            row.applicable, row.updated_at = False, now
            _event(session, asset_id, update_id, row.state, "no longer listed by the scan", now)


def take_request(session: Session, asset: Asset, now: datetime) -> bool:
    """End the asset's open scan request (a scan came back); whether it asked to install now."""
    request = session.get(PatchScanRequest, asset.id)
    if request is None or request.requested_at > now:
        return False
    install_now = request.install_now
    session.delete(request)
    return install_now


def record_scan(session: Session, asset: Asset, scan: PatchScan, *, now: datetime) -> int:
    """Store one scan; returns how many updates the asset now has applicable."""
    if session.scalar(select(PatchScanRecord.id).where(PatchScanRecord.scan_id == scan.scan_id)) is None:
        newest = session.scalar(
            select(func.max(PatchScanRecord.scanned_at)).where(
                PatchScanRecord.asset_id == asset.id, PatchScanRecord.error.is_(None)
            )
        )
        failed = scan.error is not None and not scan.items
        session.add(
            PatchScanRecord(
                asset_id=asset.id,
                scan_id=scan.scan_id,
                source=scan.source,
                scanned_at=scan.scanned_at,
                received_at=now,
                applicable=len(scan.items),
                security=sum(1 for i in scan.items if i.classification in SECURITY_CLASSES),
                reboot_pending=scan.reboot_pending,
                reboot_sources=list(scan.reboot_sources),
                error=scan.error,
                duration_ms=scan.duration_ms,
                auto_update=scan.auto_update.model_dump(mode="json", exclude_none=True)
                if scan.auto_update
                else None,
            )
        )
        _audit_auto_update(session, asset, scan)
        if not failed and (newest is None or scan.scanned_at >= newest):
            _apply(session, asset.id, scan.items, now)
        session.flush()
    return int(
        session.scalar(
            select(func.count())
            .select_from(AssetPatch)
            .where(AssetPatch.asset_id == asset.id, AssetPatch.applicable.is_(True))
        )
        or 0
    )


def _audit_auto_update(session: Session, asset: Asset, scan: PatchScan) -> None:
    """The agent changed the PC's own Windows Update settings (or could not): audited, as every
    remote change to a customer's PC is."""
    state = scan.auto_update
    if state is None or not (state.changed or state.error):
        return
    audit.record(
        session,
        actor=f"agent:{asset.id}",
        action="patches.auto_update",
        target_type="asset",
        target_id=asset.id,
        client_id=asset.client_id,
        outcome="failed" if state.error else "ok",
        details=state.model_dump(mode="json", exclude_none=True),
    )


@dataclass(frozen=True)
class AssetPatchView:
    update_id: str
    source: str
    title: str
    kb: list[str]
    package: str | None
    current_version: str | None
    available_version: str | None
    classification: str
    severity: str
    size_bytes: int | None
    reboot_required: bool
    downloaded: bool
    state: str
    reason: str | None
    applicable: bool
    first_seen: datetime
    last_seen: datetime


def asset_patches(session: Session, asset_id: str, *, include_gone: bool = False) -> list[AssetPatchView]:
    """The asset's updates, security first, then by package or title."""
    query = select(AssetPatch).where(AssetPatch.asset_id == asset_id)
    if not include_gone:
        query = query.where(AssetPatch.applicable.is_(True))
    rows = list(session.scalars(query))
    rows.sort(key=lambda r: (r.classification not in SECURITY_CLASSES, r.package or r.title))
    return [
        AssetPatchView(
            r.update_id,
            r.source,
            r.title,
            list(r.kb or []),
            r.package,
            r.current_version,
            r.available_version,
            r.classification,
            r.severity,
            r.size_bytes,
            r.reboot_required,
            r.downloaded,
            r.state,
            r.reason,
            r.applicable,
            r.first_seen,
            r.last_seen,
        )
        for r in rows
    ]


def scan_history(session: Session, asset_id: str, limit: int = 20) -> list[PatchScanRecord]:
    return list(
        session.scalars(
            select(PatchScanRecord)
            .where(PatchScanRecord.asset_id == asset_id)
            .order_by(PatchScanRecord.received_at.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class ComplianceRow:
    asset_id: str
    computer_name: str
    client: str
    site: str
    applicable: int
    missing_security: int
    failed: int
    reboot_pending: bool | None
    last_scan: datetime | None
    last_install: datetime | None
    client_id: str = ""
    site_id: str = ""

    @property
    def up_to_date(self) -> bool:
        return self.last_scan is not None and self.applicable == 0


def compliance(session: Session, client_id: str | None) -> list[ComplianceRow]:
    """Each live asset (of one client, or all for ``None``) with its updates in numbers: what a
    technician scans for machines missing security updates, failing, or waiting for a reboot."""
    from lanet.server.models import Client, PatchReportRecord, Site

    assets = (
        select(Asset, Client.name, Site.name)
        .join(Client, Client.id == Asset.client_id)
        .join(Site, Site.id == Asset.site_id)
        .where(Asset.retired_at.is_(None))
    )
    if client_id is not None:
        assets = assets.where(Asset.client_id == client_id)
    counts: dict[str, dict[str, int]] = {}
    for asset_id, classification, state, number in session.execute(
        select(AssetPatch.asset_id, AssetPatch.classification, AssetPatch.state, func.count())
        .where(AssetPatch.applicable.is_(True))
        .group_by(AssetPatch.asset_id, AssetPatch.classification, AssetPatch.state)
    ):
        row = counts.setdefault(asset_id, {"applicable": 0, "security": 0, "failed": 0})
        done = state in ("installed", "verified", "reboot_pending")
        row["applicable"] += 0 if done else number
        row["security"] += number if classification in SECURITY_CLASSES and not done else 0
        row["failed"] += number if state in ("failed", "not_upgraded") else 0
    # Each asset's newest successful scan only, not its whole scan history.
    newest = (
        select(PatchScanRecord.asset_id, func.max(PatchScanRecord.scanned_at).label("at"))
        .where(PatchScanRecord.error.is_(None))
        .group_by(PatchScanRecord.asset_id)
        .subquery()
    )
    latest = {
        asset_id: (reboot, at)
        for asset_id, reboot, at in session.execute(
            select(PatchScanRecord.asset_id, PatchScanRecord.reboot_pending, PatchScanRecord.scanned_at).join(
                newest,
                (newest.c.asset_id == PatchScanRecord.asset_id) & (newest.c.at == PatchScanRecord.scanned_at),
            )
        )
    }
    installs = {
        asset_id: at
        for asset_id, at in session.execute(
            select(PatchReportRecord.asset_id, func.max(PatchReportRecord.at)).group_by(
                PatchReportRecord.asset_id
            )
        )
    }
    rows = []
    for asset, client, site in session.execute(assets.order_by(Client.name, Site.name, Asset.computer_name)):
        numbers = counts.get(asset.id, {"applicable": 0, "security": 0, "failed": 0})
        reboot, scanned = latest.get(asset.id, (None, None))
        rows.append(
            ComplianceRow(
                asset.id,
                asset.computer_name,
                client,
                site,
                numbers["applicable"],
                numbers["security"],
                numbers["failed"],
                reboot,
                scanned,
                installs.get(asset.id),
                asset.client_id,
                asset.site_id,
            )
        )
    return rows


def events_of(session: Session, asset_id: str, limit: int = 50) -> list[PatchEvent]:
    return list(
        session.scalars(
            select(PatchEvent)
            .where(PatchEvent.asset_id == asset_id)
            .order_by(PatchEvent.at.desc())
            .limit(limit)
        )
    )
