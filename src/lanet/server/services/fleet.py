"""Reading the fleet for people: the assets a reader may see, grouped by site, and one asset's
software and services. The agents' writes are :mod:`.telemetry`'s and :mod:`.inventory`'s."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from lanet.server.db import contains_text
from lanet.server.models import Asset, AssetService, AssetSoftware, Site
from lanet.server.services import presence
from lanet.server.services.tenancy import Tenancy

#: Software rows one asset page lists (the search narrows the rest).
SOFTWARE_SHOWN = 2000


@dataclass(frozen=True)
class Fleet:
    """The assets that matched, in name order, and every site the reader may see."""

    assets: list[Asset]
    sites: list[Site]

    def by_site(self) -> list[tuple[Site, list[Asset]]]:
        """Sites that have matching assets, each with its assets."""
        grouped: dict[str, list[Asset]] = {}
        for asset in self.assets:
            grouped.setdefault(asset.site_id, []).append(asset)
        return [(site, grouped[site.id]) for site in self.sites if site.id in grouped]


def fleet(
    session: Session,
    tenancy: Tenancy,
    *,
    site_id: str | None = None,
    status: str | None = None,
    text: str | None = None,
) -> Fleet:
    """Assets in service, narrowed to a site, a state now (``presence.STATUSES``) and a text found
    in the name, user, address or OS. The caller checks that ``site_id`` is one it may see."""
    query = tenancy.limit(
        select(Asset)
        .options(joinedload(Asset.site), joinedload(Asset.client))
        .where(Asset.retired_at.is_(None)),
        Asset.client_id,
    )
    if site_id:
        query = query.where(Asset.site_id == site_id)
    if status:
        query = query.where(presence.with_status(status))
    if text:
        query = query.where(
            contains_text(text, Asset.computer_name, Asset.assigned_user, Asset.ip_address, Asset.os)
        )
    assets = list(session.scalars(query.order_by(Asset.computer_name)).unique())
    sites = list(
        session.scalars(
            tenancy.limit(select(Site).options(joinedload(Site.client)), Site.client_id).order_by(Site.name)
        )
    )
    return Fleet(assets, sites)


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
