"""What operators do with releases (the CLI and the technicians' API call these), and what the
agents' reports change. Every change is audited."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lanet.protocol.releases import UpdateReport
from lanet.protocol.values import FAILED_UPDATE_STATES, FINAL_UPDATE_STATES, RELEASE_PLATFORMS
from lanet.protocol.versions import version_key
from lanet.server.models import Asset, AssetUpdate, Client, Release, Rollout, Site
from lanet.server.models.base import utcnow
from lanet.server.services import audit
from lanet.server.services.releases.repository import OfflineKeys, ReleaseRepository, RepositoryError

DEFAULT_FAILURE_THRESHOLD = 2.0


class ReleaseError(Exception):
    """A request that cannot be done as asked, in words for the operator."""


def publish(
    session: Session,
    repository: ReleaseRepository,
    package: Path,
    *,
    version: str,
    platform: str,
    rollback: bool,
    offline: OfflineKeys,
    actor: str,
) -> Release:
    if platform not in RELEASE_PLATFORMS:
        raise ReleaseError(f"platform must be one of {', '.join(RELEASE_PLATFORMS)}")
    try:
        version_key(version)
        published = repository.publish(package, platform, version, rollback=rollback, offline=offline)
    except (ValueError, RepositoryError) as exc:
        raise ReleaseError(str(exc)) from None
    release = Release(
        version=version,
        platform=platform,
        target=published.target,
        length=published.length,
        sha256=published.sha256,
        rollback=rollback,
        published_by=actor,
    )
    session.add(release)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="release.publish",
        target_type="release",
        target_id=release.id,
        details={"version": version, "platform": platform, "sha256": published.sha256, "rollback": rollback},
    )
    return release


def releases_of(session: Session, version: str) -> list[Release]:
    found = list(session.scalars(select(Release).where(Release.version == version)))
    if not found:
        raise ReleaseError(f"no release {version} (see: lanet-server releases list)")
    return found


def list_releases(session: Session) -> list[tuple[Release, list[Rollout]]]:
    releases = sorted(
        session.scalars(select(Release)), key=lambda r: (version_key(r.version), r.platform), reverse=True
    )
    rollouts: dict[str, list[Rollout]] = {}
    for rollout in session.scalars(select(Rollout)):
        rollouts.setdefault(rollout.release_id, []).append(rollout)
    return [(release, rollouts.get(release.id, [])) for release in releases]


def _scope(
    session: Session, client_name: str | None, site_name: str | None
) -> tuple[Client | None, Site | None]:
    if site_name and not client_name:
        raise ReleaseError("a site is named within its client: give --client too")
    client = site = None
    if client_name:
        client = session.scalars(select(Client).where(Client.name == client_name)).first()
        if client is None:
            raise ReleaseError(f"no client named {client_name!r}")
    if site_name and client is not None:
        site = session.scalars(
            select(Site).where(Site.client_id == client.id, Site.name == site_name)
        ).first()
        if site is None:
            raise ReleaseError(f"client {client_name!r} has no site named {site_name!r}")
    return client, site


def rollout(
    session: Session,
    version: str,
    *,
    percent: int,
    client_name: str | None = None,
    site_name: str | None = None,
    now: bool = False,
    failure_threshold: float = DEFAULT_FAILURE_THRESHOLD,
    actor: str,
) -> list[Rollout]:
    if not 0 <= percent <= 100:
        raise ReleaseError("percent must be between 0 and 100")
    if not 0 <= failure_threshold <= 100:
        raise ReleaseError("the failure threshold is a percent between 0 and 100")
    client, site = _scope(session, client_name, site_name)
    done = []
    for release in releases_of(session, version):
        record = session.scalars(
            select(Rollout).where(
                Rollout.release_id == release.id,
                Rollout.client_id.is_(None) if client is None else Rollout.client_id == client.id,
                Rollout.site_id.is_(None) if site is None else Rollout.site_id == site.id,
            )
        ).first()
        if record is None:
            record = Rollout(
                release_id=release.id,
                client_id=client.id if client else None,
                site_id=site.id if site else None,
                created_by=actor,
                percent=percent,
            )
            session.add(record)
        record.percent = percent
        record.now = now
        record.failure_threshold = failure_threshold
        record.updated_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="release.rollout",
            target_type="release",
            target_id=release.id,
            client_id=client.id if client else None,
            details={
                "version": version,
                "platform": release.platform,
                "percent": percent,
                "client": client_name,
                "site": site_name,
                "now": now,
            },
        )
        done.append(record)
    return done


def describe(session: Session, record: Rollout) -> dict[str, object]:
    """A rollout in words and fields: scope, share, state."""
    client = session.get(Client, record.client_id) if record.client_id else None
    site = session.get(Site, record.site_id) if record.site_id else None
    scope = (
        "every client"
        if client is None
        else (client.name if site is None else f"{client.name} / {site.name}")
    )
    state = f"paused: {record.paused_reason}" if record.paused else "active"
    summary = f"{record.percent} % of {scope}{', now' if record.now else ''} ({state})"
    return {
        "client": client.name if client else None,
        "site": site.name if site else None,
        "percent": record.percent,
        "now": record.now,
        "paused": record.paused,
        "paused_reason": record.paused_reason,
        "failure_threshold": record.failure_threshold,
        "summary": summary,
    }


def set_paused(session: Session, version: str, paused: bool, *, actor: str, reason: str | None = None) -> int:
    """Pause or resume every rollout of a version; returns how many changed."""
    changed = 0
    for release in releases_of(session, version):
        for record in session.scalars(select(Rollout).where(Rollout.release_id == release.id)):
            if record.paused == paused:
                continue
            record.paused = paused
            record.paused_reason = (reason or f"paused by {actor}") if paused else None
            record.updated_at = utcnow()
            changed += 1
        audit.record(
            session,
            actor=actor,
            action="release.pause" if paused else "release.resume",
            target_type="release",
            target_id=release.id,
            details={"version": version, "platform": release.platform, "reason": reason},
        )
    return changed


@dataclass(frozen=True)
class AssetState:
    asset_id: str
    computer_name: str
    client: str
    site: str
    platform: str
    state: str
    reason: str | None
    from_version: str | None
    running_version: str | None
    updated_at: datetime | None


def status(session: Session, version: str) -> tuple[list[Release], list[Rollout], list[AssetState]]:
    releases = releases_of(session, version)
    ids = [r.id for r in releases]
    rollouts = list(session.scalars(select(Rollout).where(Rollout.release_id.in_(ids))))
    by_release = {r.id: r for r in releases}
    rows = session.execute(
        select(AssetUpdate, Asset, Client.name, Site.name)
        .join(Asset, Asset.id == AssetUpdate.asset_id)
        .join(Client, Client.id == Asset.client_id)
        .join(Site, Site.id == Asset.site_id)
        .where(AssetUpdate.release_id.in_(ids))
        .order_by(Client.name, Site.name, Asset.computer_name)
    ).all()
    states = [
        AssetState(
            asset.id,
            asset.computer_name,
            client_name,
            site_name,
            by_release[update.release_id].platform,
            update.state,
            update.reason,
            update.from_version,
            asset.agent_version,
            update.updated_at,
        )
        for update, asset, client_name, site_name in rows
    ]
    return releases, rollouts, states


def record_report(session: Session, asset: Asset, report: UpdateReport, *, ip_address: str | None) -> str:
    """Store one agent report (idempotent by ``report_id``); returns the state recorded."""
    release = session.scalars(
        select(Release).where(Release.version == report.version, Release.platform == asset.update_platform)
    ).first()
    if release is None:
        candidates = list(session.scalars(select(Release).where(Release.version == report.version)))
        release = candidates[0] if len(candidates) == 1 else None
    if release is None:
        raise ReleaseError(f"no release {report.version} for this asset's platform")
    row = session.get(AssetUpdate, (asset.id, release.id), with_for_update=True)
    if row is not None and row.last_report_id == report.report_id:
        return row.state
    if row is None:
        row = AssetUpdate(
            asset_id=asset.id,
            release_id=release.id,
            state=report.state,
            from_version=report.running_version,
            offered_at=report.at,
        )
        session.add(row)
    elif row.updated_at is not None and report.at < row.updated_at and row.state in FINAL_UPDATE_STATES:
        return row.state  # a late report of an earlier step does not undo the outcome
    row.state = report.state
    row.reason = report.reason or None
    row.last_report_id = report.report_id
    row.updated_at = report.at
    session.flush()
    if report.state in ("installed", *FINAL_UPDATE_STATES):
        audit.record(
            session,
            actor=f"agent:{asset.id}",
            action=f"agent.update_{report.state}",
            target_type="asset",
            target_id=asset.id,
            client_id=asset.client_id,
            ip_address=ip_address,
            outcome=report.state,
            details={"version": report.version, "reason": report.reason, "running": report.running_version},
        )
    if report.state in FAILED_UPDATE_STATES:
        _pause_if_failing(session, release, asset)
    return row.state


def _pause_if_failing(session: Session, release: Release, asset: Asset) -> None:
    """Pause each active rollout of ``release`` covering ``asset`` whose failures pass its threshold."""
    for record in session.scalars(
        select(Rollout).where(Rollout.release_id == release.id, Rollout.paused.is_(False))
    ):
        if record.client_id not in (None, asset.client_id) or record.site_id not in (None, asset.site_id):
            continue
        query = (
            select(AssetUpdate.state, func.count())
            .join(Asset, Asset.id == AssetUpdate.asset_id)
            .where(AssetUpdate.release_id == release.id)
            .group_by(AssetUpdate.state)
        )
        if record.client_id is not None:
            query = query.where(Asset.client_id == record.client_id)
        if record.site_id is not None:
            query = query.where(Asset.site_id == record.site_id)
        counts = dict(session.execute(query).all())
        offered = sum(counts.values())
        failed = sum(counts.get(state, 0) for state in FAILED_UPDATE_STATES)
        share = 100.0 * failed / offered if offered else 0.0
        if share > record.failure_threshold:
            record.paused = True
            record.paused_reason = (
                f"{failed} of {offered} assets failed to update ({share:.1f} %), over the "
                f"{record.failure_threshold:g} % threshold"
            )
            record.updated_at = utcnow()
            audit.record(
                session,
                actor="server",
                action="release.auto_pause",
                target_type="release",
                target_id=release.id,
                details={"version": release.version, "reason": record.paused_reason},
            )
