"""Tenant isolation for the portal: what the person logged in may see.

Staff (``superadmin``, ``technician``) see every client. Anyone else sees one client; every lookup of
an asset, site, ticket or token goes through here and answers 404 for another client's object, exactly
as for one that does not exist, so ids cannot be probed.
"""

from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from flask import abort

from lanet.server.models import Asset, Site, Ticket, User
from lanet.server.models.users import STAFF_ROLES
from lanet.server.services.tenancy import Tenancy

T = TypeVar("T")


@dataclass(frozen=True)
class Viewer:
    user_id: str
    email: str
    name: str
    role: str
    client_id: str | None

    @classmethod
    def of(cls, user: User) -> "Viewer":
        return cls(user.id, user.email, user.name or user.email, user.role, user.client_id)

    @property
    def is_staff(self) -> bool:
        return self.client_id is None and self.role in STAFF_ROLES

    @property
    def actor(self) -> str:
        return f"user:{self.email}"

    @property
    def tenancy(self) -> Tenancy:
        """What the services' listings may show this viewer."""
        return Tenancy(self.client_id, everyone=self.is_staff)

    def may_see(self, client_id: str | None) -> bool:
        return self.is_staff or (client_id is not None and client_id == self.client_id)


def not_found() -> NoReturn:
    abort(404)


def get_or_404(session: Any, model: type[T], key: str) -> T:
    """The row with primary key ``key``; 404 when there is none (an over-long key is never a key)."""
    row: T | None = session.get(model, key) if len(key) <= 64 else None
    if row is None:
        not_found()
    return row


def asset_for(session: Any, viewer: Viewer, asset_id: str) -> Asset:
    asset = get_or_404(session, Asset, asset_id)
    if asset.retired_at is not None or not viewer.may_see(asset.client_id):
        not_found()
    return asset


def site_for(session: Any, viewer: Viewer, site_id: str) -> Site:
    site = get_or_404(session, Site, site_id)
    if not viewer.may_see(site.client_id):
        not_found()
    return site


def ticket_visible(viewer: Viewer, ticket: Ticket | None) -> Ticket:
    if ticket is None or not viewer.may_see(ticket.client_id):
        not_found()
    return ticket
