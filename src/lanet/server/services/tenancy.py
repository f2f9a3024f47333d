"""Clients and sites: lookup by id or name, creation with unique four-character codes."""

import re
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lanet.server.models import Client, Site

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Tenancy:
    """Whose rows a reader may see: every client's (staff) or one client's. The services that list
    rows for the portal take one, so isolation is decided once (by the portal's viewer) and applied
    the same way in every query; someone who is neither staff nor of a client sees nothing."""

    client_id: str | None
    everyone: bool = False

    def limit(self, query: Q, client_column: Any) -> Q:
        """``query`` restricted to these clients (unchanged for everyone)."""
        return query if self.everyone else query.where(client_column == self.client_id)


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.name)))


def _code_candidates(name: str) -> list[str]:
    """Readable codes first (initials, then the name's first letters), random ones after."""
    clean = re.sub(r"[^A-Z0-9 ]", "", name.upper().translate(str.maketrans("ÁÉÍÓÚÜÑ", "AEIOUUN")))
    words = clean.split()
    candidates = []
    if words:
        initials = "".join(w[0] for w in words)
        joined = "".join(words)
        candidates += [(initials + joined)[:4].ljust(4, "0"), joined[:4].ljust(4, "0")]
    candidates += ["".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(50)]
    return candidates


def get_client(session: Session, ref: str) -> Client | None:
    """A client by id or by name (case-insensitive)."""
    client = session.get(Client, ref)
    if client is None:
        client = session.scalars(select(Client).where(func.lower(Client.name) == ref.lower())).first()
    return client


def get_site(session: Session, client: Client, ref: str) -> Site | None:
    site = session.get(Site, ref)
    if site is not None and site.client_id == client.id:
        return site
    return session.scalars(
        select(Site).where(Site.client_id == client.id, func.lower(Site.name) == ref.lower())
    ).first()


def ensure_client(session: Session, name: str) -> tuple[Client, bool]:
    name = name.strip()
    if not name:
        raise ValueError("client name must not be empty")
    existing = get_client(session, name)
    if existing is not None:
        return existing, False
    taken = set(session.scalars(select(Client.code)))
    code = next(c for c in _code_candidates(name) if c not in taken)
    client = Client(name=name, code=code)
    session.add(client)
    session.flush()
    return client, True


def ensure_site(session: Session, client: Client, name: str) -> tuple[Site, bool]:
    name = name.strip()
    if not name:
        raise ValueError("site name must not be empty")
    existing = get_site(session, client, name)
    if existing is not None:
        return existing, False
    taken = set(session.scalars(select(Site.code).where(Site.client_id == client.id)))
    code = next(c for c in _code_candidates(name) if c not in taken)
    site = Site(client_id=client.id, name=name, code=code)
    session.add(site)
    session.flush()
    return site, True
