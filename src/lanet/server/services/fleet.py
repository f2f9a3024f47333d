"""Reading the fleet for people: the assets a reader may see, grouped by site, and one asset's
software and services. The agents' writes are :mod:`.telemetry`'s and :mod:`.inventory`'s."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, load_only

from lanet.server.db import contains_text
from lanet.server.models import Asset, AssetService, AssetSoftware, Client, Site
from lanet.server.services import presence
from lanet.server.services.tenancy import Tenancy

#: Software rows one asset page lists (the search narrows the rest).
SOFTWARE_SHOWN = 2000


#: Assets one page of the fleet list shows.
PAGE_SIZE = 100
#: What the list shows of each asset: its hardware and services (large JSON) stay in the table.
_LISTED = (
    Asset.id,
    Asset.client_id,
    Asset.site_id,
    Asset.computer_name,
    Asset.agent_status,
    Asset.offline_deadline,
    Asset.last_seen,
    Asset.os,
    Asset.assigned_user,
    Asset.cpu_usage,
    Asset.memory_usage,
    Asset.disk_usage,
    Asset.open_alerts,
)


@dataclass(frozen=True)
class Fleet:
    """One page of the assets that matched (by client, site, then name), how many matched in all
    and in each state now (whatever the state filter), and every site the reader may see."""

    assets: list[Asset]
    sites: list[Site]
    total: int
    counts: dict[str, int]
    page: int
    pages: int

    def by_site(self) -> list[tuple[Site, list[Asset]]]:
        """Sites that have matching assets on this page, each with its assets, in list order."""
        grouped: dict[str, list[Asset]] = {}
        for asset in self.assets:
            grouped.setdefault(asset.site_id, []).append(asset)
        sites = {site.id: site for site in self.sites}
        return [(sites[site_id], items) for site_id, items in grouped.items() if site_id in sites]


def fleet(
    session: Session,
    tenancy: Tenancy,
    *,
    site_id: str | None = None,
    status: str | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Fleet:
    """Assets in service, narrowed to a site, a state now (``presence.STATUSES``) and a text found
    in the name, user, address or OS, one page at a time: filtered, counted and paged by the
    database. The caller checks that ``site_id`` is one it may see."""
    narrowed = tenancy.limit(select(Asset.id).where(Asset.retired_at.is_(None)), Asset.client_id)
    if site_id:
        narrowed = narrowed.where(Asset.site_id == site_id)
    if text:
        narrowed = narrowed.where(
            contains_text(text, Asset.computer_name, Asset.assigned_user, Asset.ip_address, Asset.os)
        )
    state = presence.status_case()
    counts = {
        str(name): int(count)
        for name, count in session.execute(
            select(state, func.count()).where(Asset.id.in_(narrowed)).group_by(state)
        )
    }
    if status:
        narrowed = narrowed.where(presence.with_status(status))
    total = counts.get(status, 0) if status else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = (
        select(Asset)
        .options(load_only(*_LISTED))
        .join(Site, Site.id == Asset.site_id)
        .join(Client, Client.id == Asset.client_id)
        .where(Asset.id.in_(narrowed))
        .order_by(Client.name, Site.name, Asset.computer_name, Asset.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    assets = list(session.scalars(query))
    sites = list(
        session.scalars(
            tenancy.limit(select(Site).options(joinedload(Site.client)), Site.client_id).order_by(Site.name)
        )
    )
    return Fleet(assets, sites, total, counts, page, pages)


def software_of(session: Session, asset_id: str, text: str | None = None) -> tuple[list[AssetSoftware], int]:
    """The asset's software by name (at most :data:`SOFTWARE_SHOWN`, narrowed to a text in the name
    or publisher) and how many it has in all."""
    query = select(AssetSoftware).where(AssetSoftware.asset_id == asset_id)
    if text:
        query = query.where(contains_text(text, AssetSoftware.name, AssetSoftware.publisher))
    rows = list(session.scalars(query.order_by(func.lower(AssetSoftware.name)).limit(SOFTWARE_SHOWN)))
    total = session.scalar(
        select(func.count()).select_from(AssetSoftware).where(AssetSoftware.asset_id == asset_id)
    )
    return rows, int(total or 0)


def services_of(session: Session, asset_id: str) -> list[AssetService]:
    return list(
        session.scalars(
            select(AssetService)
            .where(AssetService.asset_id == asset_id)
            .order_by(func.lower(AssetService.name))
        )
    )


def predecessor(session: Session, asset: Asset) -> Asset | None:
    """The asset this one replaced (a reinstalled PC), when it did."""
    return session.get(Asset, asset.replaces_asset_id) if asset.replaces_asset_id else None
