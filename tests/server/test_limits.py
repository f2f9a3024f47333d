"""Per-asset limits on the ticket endpoints and on agent logs. Before: 245 my-tickets in a row,
unlimited creation with 5 MiB screenshots, and 1,000 log lines of 8,000 characters in one heartbeat."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.app import create_app
from lanet.server.models import AgentLog
from lanet.server.settings import RateLimit
from tests.conftest import make_settings
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register

CREATE = "/api/tickets/create-from-agent"


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[tuple[FlaskClient, Any]]:
    settings = make_settings(
        database_url,
        tmp_path,
        ticket_rate=RateLimit(3, 60),
        ticket_create_rate=RateLimit(2, 3600),
        agent_log_rate=RateLimit(5, 3600),
    )
    app = create_app(settings)
    yield app.test_client(), app.extensions["lanet"].db
    app.extensions["lanet"].db.dispose()


@pytest.fixture
def agent(limited: tuple[FlaskClient, Any]) -> dict[str, Any]:
    from lanet.server.services.credentials import Keys
    from lanet.server.services.tokens import create_token
    from tests.conftest import SECRET

    client, db = limited
    with db.session() as session:
        token = create_token(session, Keys(SECRET), client_name="Cafe", site_name="CDMX", actor="t").token
    return register(client, token)


def _ticket(client: FlaskClient, agent: dict[str, Any]) -> Any:
    body = {
        "description": "x",
        "category": "red",
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
    }
    return client.post(CREATE, json=body, headers=bearer(agent["agent_token"]))


def test_the_tray_views_of_one_asset_are_rate_limited(
    limited: tuple[FlaskClient, Any], agent: dict[str, Any]
) -> None:
    client, _db = limited
    auth = bearer(agent["agent_token"])
    codes = [client.get("/api/tickets/my-tickets", headers=auth).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/tickets/TKT-000001", headers=auth)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _ticket(client, agent).status_code == 201  # creation has its own budget


def test_ticket_creation_is_rate_limited_per_asset(
    limited: tuple[FlaskClient, Any], agent: dict[str, Any]
) -> None:
    client, _db = limited
    codes = [_ticket(client, agent).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert (
        client.post(
            HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
        ).status_code
        == 200
    )


def _logs(count: int, size: int = 20) -> list[dict[str, str]]:
    return [
        {"timestamp": "2026-12-01T00:00:00Z", "level": "INFO", "message": "x" * size} for _ in range(count)
    ]


def test_log_lines_beyond_the_assets_budget_are_left_out_and_said_so(
    limited: tuple[FlaskClient, Any], agent: dict[str, Any]
) -> None:
    client, db = limited
    auth = bearer(agent["agent_token"])
    for count in (4, 4):
        beat = client.post(HEARTBEAT, json=heartbeat_body(agent["asset_id"], logs=_logs(count)), headers=auth)
        assert beat.status_code == 200  # the metrics are kept either way
    with db.session() as session:
        stored = session.scalars(select(AgentLog).order_by(AgentLog.id)).all()
        messages = [row.message for row in stored]
    assert len(stored) == 6 and messages[:5] == ["x" * 20] * 5
    assert "3 log line(s) from this heartbeat were not stored" in messages[5]


@pytest.mark.parametrize(("count", "size"), [(201, 10), (1, 4001)])
def test_one_heartbeat_carries_a_bounded_amount_of_log(
    client: FlaskClient, new_token: Callable[..., str], count: int, size: int
) -> None:
    agent = register(client, new_token())
    reply = client.post(
        HEARTBEAT,
        json=heartbeat_body(agent["asset_id"], logs=_logs(count, size)),
        headers=bearer(agent["agent_token"]),
    )
    assert reply.status_code == 422 and reply.get_json()["details"][0]["field"].startswith("logs")
