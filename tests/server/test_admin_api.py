"""The technicians' API: API-key auth, queueing scripts, reading results, pushing configuration."""

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.db import Database
from lanet.server.models import ApiKey, AuditEntry
from lanet.server.services.apikeys import create_key, revoke_key
from lanet.server.services.credentials import Keys
from tests.conftest import SECRET
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register


@pytest.fixture
def tech_key(db: Database) -> str:
    with db.session() as session:
        return create_key(session, Keys(SECRET), "helpdesk", "cli:admin")[1]


def test_keys_are_required_and_stored_only_as_digests(
    client: FlaskClient, db: Database, tech_key: str
) -> None:
    body = {"asset_id": "x", "type": "bash", "script": "true"}
    assert client.post("/api/admin/commands", json=body).status_code == 401
    assert client.post("/api/admin/commands", json=body, headers=bearer("lak_wrong")).status_code == 401
    with db.session() as session:
        record = session.scalars(select(ApiKey)).one()
        assert tech_key not in record.key_digest
        revoke_key(session, "helpdesk", "cli:admin")
    assert client.post("/api/admin/commands", json=body, headers=bearer(tech_key)).status_code == 401


def test_queue_deliver_and_read_a_command(
    client: FlaskClient, new_token: Callable[..., str], db: Database, tech_key: str
) -> None:
    agent = register(client, new_token())
    queued = client.post(
        "/api/admin/commands",
        json={
            "asset_id": agent["asset_id"],
            "type": "bash",
            "script": "uptime",
            "priority": "high",
            "timeout": 60,
        },
        headers=bearer(tech_key),
    )
    assert queued.status_code == 201
    command = queued.get_json()["data"]
    assert command["status"] == "queued" and command["queued_by"] == "apikey:helpdesk"
    beat = client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
    )
    assert [c["command_id"] for c in beat.get_json()["data"]["commands"]] == [command["command_id"]]
    shown = client.get(f"/api/admin/commands/{command['command_id']}", headers=bearer(tech_key)).get_json()
    assert shown["data"]["status"] == "delivered"
    listed = client.get(
        f"/api/admin/assets/{agent['asset_id']}/commands", headers=bearer(tech_key)
    ).get_json()
    assert [c["command_id"] for c in listed["data"]["items"]] == [command["command_id"]]
    assert client.get("/api/admin/commands/nope", headers=bearer(tech_key)).status_code == 404
    missing = client.post(
        "/api/admin/commands",
        json={"asset_id": "nope", "type": "bash", "script": "true"},
        headers=bearer(tech_key),
    )
    assert missing.status_code == 404


def test_push_configuration_through_the_api(
    client: FlaskClient, new_token: Callable[..., str], db: Database, tech_key: str
) -> None:
    agent = register(client, new_token())
    done = client.post(
        "/api/admin/config",
        json={"scope": "asset", "id": agent["asset_id"], "key": "heartbeat_interval", "value": 30},
        headers=bearer(tech_key),
    )
    assert done.status_code == 200 and done.get_json()["data"]["revision"] >= 1
    bad = client.post(
        "/api/admin/config",
        json={"scope": "asset", "id": agent["asset_id"], "key": "cpu_threshold", "value": 400},
        headers=bearer(tech_key),
    )
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"].startswith("value")
    unknown = client.post(
        "/api/admin/config",
        json={"scope": "site", "id": "nope", "key": "log_level", "value": "DEBUG"},
        headers=bearer(tech_key),
    )
    assert unknown.status_code == 404
    beat = client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
    )
    assert beat.get_json()["data"]["config_updates"] == {"heartbeat_interval": 30}
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.set")).one()
        assert entry.actor == "apikey:helpdesk"


def test_technicians_work_a_ticket_through_the_api(
    client: FlaskClient, new_token: Callable[..., str], tech_key: str
) -> None:
    agent = register(client, new_token())
    body = {
        "description": "Sin internet",
        "category": "red",
        "priority": "alta",
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
    }
    assert (
        client.post(
            "/api/tickets/create-from-agent", json=body, headers=bearer(agent["agent_token"])
        ).status_code
        == 201
    )
    headers = bearer(tech_key)
    inbox = client.get("/api/admin/tickets?status=nuevo", headers=headers).get_json()["data"]["items"]
    assert [t["number"] for t in inbox] == ["TKT-000001"]
    assigned = client.post(
        "/api/admin/tickets/TKT-000001/assign", json={"technician": "Carlos Ruiz"}, headers=headers
    )
    assert assigned.get_json()["data"]["status"] == "asignado"
    note = client.post(
        "/api/admin/tickets/TKT-000001/comments", json={"body": "router", "public": False}, headers=headers
    )
    assert note.status_code == 201 and note.get_json()["data"]["public"] is False
    done = client.post("/api/admin/tickets/TKT-000001/status", json={"status": "resuelto"}, headers=headers)
    assert done.get_json()["data"]["status"] == "resuelto"
    detail = client.get("/api/admin/tickets/TKT-000001", headers=headers).get_json()["data"]
    assert [c["body"] for c in detail["comments"]] == ["router"]
    mine = client.get("/api/tickets/TKT-000001", headers=bearer(agent["agent_token"])).get_json()["data"]
    assert mine["comments"] == []  # the internal note stays internal
    assert (
        client.post(
            "/api/admin/tickets/TKT-000001/status", json={"status": "done"}, headers=headers
        ).status_code
        == 422
    )
    assert client.get("/api/admin/tickets/TKT-000404", headers=headers).status_code == 404
    assert client.get("/api/admin/tickets", headers=bearer(agent["agent_token"])).status_code == 401


def test_an_unauthenticated_caller_learns_nothing_from_validation(client: FlaskClient) -> None:
    for path, body in (
        ("/api/admin/commands", {"asset_id": 5, "type": "cobol"}),
        ("/api/admin/config", {"scope": "planet"}),
        ("/api/agents/heartbeat", {"status": {"cpu_usage": "x"}}),
    ):
        reply = client.post(path, json=body)
        assert reply.status_code == 401, (path, reply.get_json())
        assert reply.get_json()["details"] == [] and "type" not in reply.get_json()["error"]


def test_the_commands_of_an_asset_that_does_not_exist_are_404(client: FlaskClient, tech_key: str) -> None:
    reply = client.get(
        "/api/admin/assets/00000000-0000-4000-8000-000000000000/commands", headers=bearer(tech_key)
    )
    assert reply.status_code == 404 and reply.get_json()["code"] == "NOT_FOUND"
