"""Fixed-window rate limiting with the counters in the database, shared by all server processes.

One upsert per check (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), in its own short transaction
so a refused request still counts.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, case, select
from sqlalchemy.dialects import postgresql, sqlite

from lanet.server.models import RateLimitBucket
from lanet.server.models.base import table_of
from lanet.server.settings import RateLimit


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def window_start(now: datetime, limit: RateLimit) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % limit.seconds, UTC)


def retry_after(now: datetime, start: datetime, limit: RateLimit) -> int:
    return max(1, math.ceil(start.timestamp() + limit.seconds - now.timestamp()))


def hit(conn: Connection, key: str, limit: RateLimit, now: datetime, amount: int = 1) -> Verdict:
    """Count ``amount`` (one request, or N log lines) against ``key``; the caller commits ``conn``'s
    transaction."""
    start = window_start(now, limit)
    table = table_of(RateLimitBucket)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(key=key[:128], window_start=start, count=amount)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": case(
                (table.c.window_start == stmt.excluded.window_start, table.c.count + stmt.excluded.count),
                else_=stmt.excluded.count,
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(table.c.count)
    count = int(conn.execute(stmt).scalar_one())
    return Verdict(count <= limit.count, count, retry_after(now, start, limit))


def peek(conn: Connection, key: str, limit: RateLimit, now: datetime) -> Verdict:
    """Read ``key``'s count in the current window without adding to it."""
    table = table_of(RateLimitBucket)
    start = window_start(now, limit)
    count = int(
        conn.execute(
            select(table.c.count).where(table.c.key == key[:128], table.c.window_start == start)
        ).scalar()
        or 0
    )
    return Verdict(count < limit.count, count, retry_after(now, start, limit))
