"""Commands through the heartbeat and the result endpoint, on both databases."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.db import Database
from lanet.server.models import AuditEntry, Command
from lanet.server.services.commands import CommandError, queue_command
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register

RESULT = "/api/agents/commands/result"


def _queue(db: Database, asset_id: str, script: str = "echo hi", **kwargs: object) -> str:
    with db.session() as session:
        return queue_command(
            session, asset_id=asset_id, type_="bash", script=script, actor="cli:tech", **kwargs
        ).id  # type: ignore[arg-type]


def _beat(client: FlaskClient, agent: dict[str, str], **changes: object) -> dict[str, object]:
    response = client.post(
        HEARTBEAT,
        json=heartbeat_body(agent["asset_id"], alerts=[], logs=[], **changes),
        headers=bearer(agent["agent_token"]),
    )
    assert response.status_code == 200, response.get_json()
    data: dict[str, object] = response.get_json()["data"]
    return data


def test_commands_are_offered_high_priority_first_until_acknowledged(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    low = _queue(db, agent["asset_id"], priority="low")
    high = _queue(db, agent["asset_id"], "uptime", priority="high", timeout=30, arguments=["-p"])
    offered = _beat(client, agent)["commands"]
    assert [c["command_id"] for c in offered] == [high, low]  # type: ignore[index,union-attr]
    first = offered[0]  # type: ignore[index]
    assert {k: first[k] for k in ("type", "script", "timeout", "priority", "arguments")} == {
        "type": "bash",
        "script": "uptime",
        "timeout": 30,
        "priority": "high",
        "arguments": ["-p"],
    }
    again = _beat(client, agent)["commands"]
    assert len(again) == 2  # type: ignore[arg-type]
    assert _beat(client, agent, command_acks=[high, low])["commands"] == []
    with db.session() as session:
        assert {c.status for c in session.scalars(select(Command))} == {"running"}


def test_results_are_recorded_once_and_only_for_the_own_asset(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    token = new_token()
    agent = register(client, token)
    other = register(client, token, computer_name="PC-2", serial_number="S2", mac_address="00:11:22:33:44:02")
    command_id = _queue(db, agent["asset_id"])
    _beat(client, agent)
    body = {
        "command_id": command_id,
        "status": "failed",
        "exit_code": 2,
        "stdout": "out",
        "stderr": "err",
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:01Z",
    }
    foreign = client.post(RESULT, json=body, headers=bearer(other["agent_token"]))
    assert foreign.status_code == 404
    first = client.post(RESULT, json=body, headers=bearer(agent["agent_token"]))
    assert first.status_code == 200 and first.get_json()["data"] == {
        "command_id": command_id,
        "status": "failed",
        "duplicate": False,
    }
    repeat = client.post(RESULT, json={**body, "status": "succeeded"}, headers=bearer(agent["agent_token"]))
    assert repeat.get_json()["data"]["duplicate"] is True
    with db.session() as session:
        command = session.get(Command, command_id)
        assert command is not None and (command.status, command.exit_code, command.stdout) == (
            "failed",
            2,
            "out",
        )
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.target_id == command_id))
        ]
        assert actions == ["command.queue", "command.deliver", "command.result"]


def test_expired_commands_are_not_offered(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    command_id = _queue(db, agent["asset_id"])
    with db.session() as session:
        command = session.get(Command, command_id)
        assert command is not None
        command.expires_at = command.queued_at - timedelta(seconds=1)
    assert _beat(client, agent)["commands"] == []
    with db.session() as session:
        assert session.get(Command, command_id).status == "expired"  # type: ignore[union-attr]


def test_result_bodies_are_validated(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    response = client.post(
        RESULT,
        json={"command_id": "x", "status": "exploded", "stdout": "y" * 70000},
        headers=bearer(agent["agent_token"]),
    )
    assert response.status_code == 422
    assert {d["field"] for d in response.get_json()["details"]} == {"status", "stdout"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type_": "cobol"}, "type must be"),
        ({"priority": "urgent"}, "priority must be"),
        ({"timeout": 0}, "timeout must be"),
        ({"script": "   "}, "empty"),
        ({"asset_id": "nope"}, "no asset"),
    ],
)
def test_queue_refuses_bad_commands(
    client: FlaskClient, new_token: Callable[..., str], db: Database, kwargs: dict[str, object], message: str
) -> None:
    agent = register(client, new_token())
    values: dict[str, object] = {
        "asset_id": agent["asset_id"],
        "type_": "bash",
        "script": "true",
        "actor": "t",
    }
    values.update(kwargs)
    with db.session() as session, pytest.raises(CommandError, match=message):
        queue_command(session, **values)  # type: ignore[arg-type]
