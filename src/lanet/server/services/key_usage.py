"""What each server secret still holds: the stored digests made with it, per kind.

An earlier secret can be dropped once it holds nothing: every install token and API key presented
since the rotation, and every agent that refreshed since, moved to the current key. Replaced refresh
credentials kept for reuse detection are not counted: they stop matching when their key goes, which
only means a stolen, already replaced credential is refused as unknown instead of as reused.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lanet.server.models import ApiKey, Asset, InstallToken
from lanet.server.services.credentials import KID_SEPARATOR, Keys

#: Kind of credential -> the column its digests are stored in.
KINDS: dict[str, InstrumentedAttribute[str | None]] = {
    "install_tokens": InstallToken.token_digest,  # type: ignore[dict-item]
    "api_keys": ApiKey.key_digest,  # type: ignore[dict-item]
    "refresh_credentials": Asset.refresh_digest,
    "agent_identities": Asset.identity_digest,
}
#: The row for digests stored before keys were versioned (any key may have made them).
UNVERSIONED = "unversioned"


@dataclass
class KeyUsage:
    kid: str
    role: str  # "current", "previous", "unknown" (a key this server no longer holds) or "unversioned"
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def usage(session: Session, keys: Keys) -> list[KeyUsage]:
    """One row per key (current first, then the previous ones, then any others found)."""
    rows = {keys.kid: KeyUsage(keys.kid, "current")}
    rows.update({d.kid: KeyUsage(d.kid, "previous") for d in keys.previous})
    width = len(keys.kid) + len(KID_SEPARATOR)
    for kind, column in KINDS.items():
        prefix = func.substr(column, 1, width)
        query = select(prefix, func.count()).where(column.is_not(None)).group_by(prefix)
        for head, count in session.execute(query):
            kid, separator, _ = str(head).partition(KID_SEPARATOR)
            name = kid if separator else UNVERSIONED
            role = "unknown" if separator else UNVERSIONED
            rows.setdefault(name, KeyUsage(name, role)).counts[kind] += int(count)
    return list(rows.values())
