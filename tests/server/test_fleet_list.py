"""The fleet list: paged, filtered and counted by the database, and never another client's."""

import re
import time
import uuid
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from lanet.server.db import Database
from lanet.server.models import Asset, Site
from lanet.server.models.base import table_of, utcnow
from lanet.server.services.fleet import PAGE_SIZE
from tests.server.portal_world import Portal, build_world


def _add_assets(db: Database, client_id: str, count: int, *, offline_every: int = 0) -> None:
    with db.session() as session:
        site_id = session.scalars(select(Site.id).where(Site.client_id == client_id)).first()
    now = utcnow()
    rows = []
    for n in range(count):
        offline = offline_every and n % offline_every == 0
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "client_id": client_id,
                "site_id": site_id,
                "fingerprint": uuid.uuid4().hex,
                "computer_name": f"CAJA-{n:04d}",
                "hardware": {},
                "agent_status": "online",
                "last_seen": now,
                "heartbeat_interval": 60,
                "offline_deadline": int(time.time()) + (-10 if offline else 180),
                "cpu_usage": 12.5,
                "registered_at": now,
            }
        )
    with db.engine.begin() as conn:
        conn.execute(insert(table_of(Asset)), rows)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-asset="([^"]+)"', html)


def test_the_list_is_paged_and_counted_by_state(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    world = build_world(client, db, new_token)
    _add_assets(db, world.a.agent["client_id"], 2 * PAGE_SIZE + 20, offline_every=4)
    portal = Portal(client)
    portal.login(world.a.user_email)
    first = portal.get("/portal/assets").get_data(as_text=True)
    assert len(_rows(first)) == PAGE_SIZE
    assert "Página 1 de 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "FERRE-PC-07" not in first  # the other client's machine
    # The state counts cover every page: 221 machines, 55 of them past their deadline.
    assert re.search(r"status-offline[^>]*>[^<]*</span> 55<", first), first[:3000]
    last = portal.get("/portal/assets?page=3").get_data(as_text=True)
    assert len(_rows(last)) == 2 * PAGE_SIZE + 21 - 2 * PAGE_SIZE
    assert 'rel="prev"' in last and 'rel="next"' not in last
    everything = set(_rows(first)) | set(_rows(portal.get("/portal/assets?page=2").get_data(as_text=True)))
    assert len(everything | set(_rows(last))) == 2 * PAGE_SIZE + 21  # no machine twice, none left out
    offline = portal.get("/portal/assets?status=offline").get_data(as_text=True)
    assert len(_rows(offline)) == 55 and "Página" not in offline
    assert "sin conexión" in offline and "12 %" not in offline  # stale metrics are not shown as now
    found = portal.get("/portal/assets?q=CAJA-000").get_data(as_text=True)
    assert len(_rows(found)) == 10
    for odd in ("0", "-3", "x", "99999999999"):
        assert len(_rows(portal.get(f"/portal/assets?page={odd}").get_data(as_text=True))) == PAGE_SIZE
    assert len(_rows(portal.get("/portal/assets?page=40").get_data(as_text=True))) == 21  # the last one
