"""An agent's identity and credentials: proven, rotated, revocable. On both databases.

Before: registering with any token of the client and a machine's public identifiers (shown on the
portal) took that machine's asset over; credentials never rotated, never expired, and a retired
asset could still use the ticket endpoints.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lanet.server.db import Database
from lanet.server.models import AgentLog, Asset, AuditEntry, MetricSample, Ticket
from lanet.server.models.base import utcnow
from lanet.server.services import asset_lifecycle
from lanet.server.services.commands import queue_command
from lanet.server.services.credentials import Keys
from tests.conftest import SECRET
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register, register_body
from tests.server.portal_world import Portal

REFRESH = "/api/agents/token/refresh"
CREATE = "/api/tickets/create-from-agent"
VICTIM = {"machine_id": "4c4c4544-victim", "serial_number": "VICTIM-SN-1", "computer_name": "CONTA-01"}


def _beat(client: FlaskClient, agent: dict[str, Any]) -> Any:
    return client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
    )


def _ticket(client: FlaskClient, agent: dict[str, Any]) -> Any:
    body = {
        "description": "No imprime",
        "category": "impresora",
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
    }
    return client.post(CREATE, json=body, headers=bearer(agent["agent_token"]))


def _refresh(client: FlaskClient, asset_id: str, refresh_token: str) -> Any:
    return client.post(REFRESH, json={"asset_id": asset_id, "refresh_token": refresh_token})


def _every_agent_endpoint(client: FlaskClient, agent: dict[str, Any], ticket_ref: str) -> dict[str, int]:
    auth = bearer(agent["agent_token"])
    return {
        "heartbeat": _beat(client, agent).status_code,
        "inventory": client.post(
            "/api/agents/inventory",
            json={"asset_id": agent["asset_id"], "hardware_info": {"computer_name": "X"}},
            headers=auth,
        ).status_code,
        "result": client.post(
            "/api/agents/commands/result", json={"command_id": "x", "status": "failed"}, headers=auth
        ).status_code,
        "create": _ticket(client, agent).status_code,
        "mine": client.get("/api/tickets/my-tickets", headers=auth).status_code,
        "detail": client.get(f"/api/tickets/{ticket_ref}", headers=auth).status_code,
        "comment": client.post(
            f"/api/tickets/{ticket_ref}/comments", json={"body": "x"}, headers=auth
        ).status_code,
        "rate": client.post(f"/api/tickets/{ticket_ref}/rate", json={"rating": 5}, headers=auth).status_code,
    }


# --- identity ------------------------------------------------------------------------------------
def test_public_identifiers_and_another_token_do_not_take_a_machine_over(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    victim = register(client, new_token(), identity="victim-secret-" + "v" * 40, **VICTIM)
    made = _ticket(client, victim)
    assert made.status_code == 201
    with db.session() as session:
        queue_command(session, asset_id=victim["asset_id"], type_="bash", script="echo secreto", actor="t")
    other_token = new_token(site_name="Bodega")  # another active token of the same client
    attacker = register(client, other_token, identity="attacker-secret-" + "a" * 40, **VICTIM)
    assert attacker["asset_id"] != victim["asset_id"]
    assert attacker["replaces_asset_id"] == victim["asset_id"] and attacker["existing_asset"] is False
    # The victim is still logged in, keeps its name, and nothing of its own reaches the newcomer.
    assert _beat(client, victim).status_code == 200
    beat = _beat(client, attacker)
    assert beat.status_code == 200 and beat.get_json()["data"]["commands"] == []
    mine = client.get("/api/tickets/my-tickets", headers=bearer(attacker["agent_token"]))
    assert mine.get_json()["data"]["items"] == []
    with db.session() as session:
        kept = session.get(Asset, victim["asset_id"])
        assert (
            kept is not None
            and kept.computer_name == "CONTA-01"
            and kept.site.name == "Oficina Principal CDMX"
        )
    # No identity at all (the seed's bare example) proves nothing either.
    bare = register(client, new_token(), identity=None, **VICTIM)
    assert bare["replaces_asset_id"] == victim["asset_id"]


def test_a_used_up_single_use_token_needs_the_proof_too(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    token = new_token(max_uses=1)
    first = register(client, token, identity="first-secret-" + "f" * 40, **VICTIM)
    # The agent's own retry (its first answer was lost) carries the same secret: same asset.
    again = register(client, token, identity="first-secret-" + "f" * 40, **VICTIM)
    assert again["asset_id"] == first["asset_id"]
    stolen = client.post(REGISTER, json=register_body(token, identity="thief-" + "t" * 40, **VICTIM))
    assert stolen.status_code == 403 and stolen.get_json()["code"] == "TOKEN_USED"


def test_reinstall_with_data_kept_returns_the_same_asset(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    first = register(client, new_token(), identity="kept-" + "k" * 40, **VICTIM)
    again = register(
        client, new_token(), identity="kept-" + "k" * 40, **{**VICTIM, "computer_name": "CONTA-02"}
    )
    assert again["asset_id"] == first["asset_id"] and again["existing_asset"] is True
    assert again["replaces_asset_id"] is None
    # The old JWT stopped working at once, though it was issued in the same second.
    assert _beat(client, first).status_code == 401
    assert _beat(client, again).status_code == 200


def test_a_reimaged_pc_is_merged_and_keeps_the_history(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    old = register(client, new_token(), identity="before-" + "b" * 40, **VICTIM)
    assert _beat(client, old).status_code == 200
    assert _ticket(client, old).status_code == 201
    reimaged = register(client, new_token(), identity="after-" + "n" * 40, **VICTIM)
    assert reimaged["replaces_asset_id"] == old["asset_id"]
    assert _beat(client, reimaged).status_code == 200
    # A reimaged PC registering again (its new agent has its new secret) finds itself, not a third asset.
    again = register(client, new_token(), identity="after-" + "n" * 40, **VICTIM)
    assert again["asset_id"] == reimaged["asset_id"]
    reimaged = again
    with db.session() as session:
        newcomer = session.get(Asset, reimaged["asset_id"])
        assert newcomer is not None
        asset_lifecycle.merge(session, newcomer, "user:tec@lanet.mx", utcnow())
    with db.session() as session:
        assert session.get(Asset, old["asset_id"]) is None
        merged = session.get(Asset, reimaged["asset_id"])
        assert merged is not None and merged.replaces_asset_id is None
        samples = session.scalar(
            select(func.count()).select_from(MetricSample).where(MetricSample.asset_id == merged.id)
        )
        tickets = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.asset_id == merged.id))
        assert samples == 2 and tickets == 1
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "asset.merge")).one()
        assert audit.actor == "user:tec@lanet.mx" and audit.target_id == merged.id
    # The merged asset is now the machine: its agent goes on, and later registrations find it.
    assert _beat(client, reimaged).status_code == 200
    later = register(client, new_token(), identity="after-" + "n" * 40, **VICTIM)
    assert later["asset_id"] == reimaged["asset_id"] and later["replaces_asset_id"] is None


def test_a_rejected_replacement_is_retired_and_the_old_asset_untouched(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    old = register(client, new_token(), identity="owner-" + "o" * 40, **VICTIM)
    intruder = register(client, new_token(), identity="intruder-" + "i" * 40, **VICTIM)
    with db.session() as session:
        newcomer = session.get(Asset, intruder["asset_id"])
        assert newcomer is not None
        asset_lifecycle.reject(session, newcomer, "user:tec@lanet.mx", utcnow())
    assert _beat(client, intruder).status_code == 401
    assert _beat(client, intruder).get_json()["code"] == "ASSET_RETIRED"
    assert _beat(client, old).status_code == 200


# --- retirement ------------------------------------------------------------------------------------
def test_a_retired_asset_is_refused_on_every_agent_endpoint(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    ref = _ticket(client, agent).get_json()["data"]["number"]
    assert set(_every_agent_endpoint(client, agent, ref).values()) <= {200, 201, 404, 409}
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        asset_lifecycle.retire(session, asset, "cli:root", utcnow())
    assert _every_agent_endpoint(client, agent, ref) == dict.fromkeys(
        ("heartbeat", "inventory", "result", "create", "mine", "detail", "comment", "rate"), 401
    )
    refreshed = _refresh(client, agent["asset_id"], agent["refresh_token"])
    assert refreshed.status_code == 401 and refreshed.get_json()["code"] == "ASSET_RETIRED"


def test_technicians_retire_from_the_portal_and_customers_cannot(
    app: Flask, client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    from lanet.server.services.users import create_user

    agent = register(client, new_token())
    with db.session() as session:
        create_user(
            session, email="tec@lanet.mx", role="technician", password="correcto-caballo-bateria", actor="t"
        )
        create_user(
            session,
            email="ana@cafe.mx",
            role="client_admin",
            password="correcto-caballo-bateria",
            actor="t",
            client_ref="Cafe Mexico S.A. de C.V.",
        )
    path = f"/portal/assets/{agent['asset_id']}/lifecycle"
    customer = Portal(app.test_client())
    customer.login("ana@cafe.mx", "correcto-caballo-bateria")
    assert customer.post(path, {"action": "retire", "confirm": "yes"}).status_code == 404
    tech = Portal(app.test_client())
    tech.login("tec@lanet.mx", "correcto-caballo-bateria")
    page = tech.get(f"/portal/assets/{agent['asset_id']}").get_data(as_text=True)
    assert "Retirar equipo" in page
    assert tech.post(path, {"action": "retire"}).status_code == 422  # not confirmed
    assert _beat(client, agent).status_code == 200
    done = tech.post(path, {"action": "retire", "confirm": "yes"})
    assert done.status_code == 302
    assert _beat(client, agent).status_code == 401
    assert tech.get(f"/portal/assets/{agent['asset_id']}").status_code == 404
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "asset.retire")).one()
        assert entry.actor == "user:tec@lanet.mx"


def test_retire_merge_and_reject_from_the_command_line(
    client: FlaskClient,
    db: Database,
    new_token: Callable[..., str],
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lanet.server import cli

    settings = app.extensions["lanet"].settings
    monkeypatch.setenv("LANET_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANET_SECRET_KEY", SECRET)
    monkeypatch.setenv("LANET_DATA_DIR", str(settings.data_dir))
    old = register(client, new_token(), identity="owner-" + "o" * 40, **VICTIM)
    newcomer = register(client, new_token(), identity="later-" + "l" * 40, **VICTIM)
    assert cli.main(["assets", "merge", old["asset_id"]]) == 2  # not a replacement
    assert cli.main(["assets", "merge", newcomer["asset_id"]]) == 0
    assert cli.main(["assets", "retire", newcomer["asset_id"]]) == 0
    assert cli.main(["assets", "retire", newcomer["asset_id"]]) == 2  # already retired
    assert _beat(client, newcomer).status_code == 401
    third = register(client, new_token(), identity="third-" + "t" * 40, **VICTIM)
    assert third["replaces_asset_id"] is None  # the retired one no longer counts
    fourth = register(client, new_token(), identity="fourth-" + "f" * 40, **VICTIM)
    assert cli.main(["assets", "reject", fourth["asset_id"]]) == 0
    assert _beat(client, fourth).status_code == 401 and _beat(client, third).status_code == 200


# --- refresh credentials -----------------------------------------------------------------------------
def test_the_refresh_credential_rotates_on_every_use(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    first = _refresh(client, agent["asset_id"], agent["refresh_token"])
    assert first.status_code == 200
    rotated = first.get_json()["data"]["refresh_token"]
    assert rotated and rotated != agent["refresh_token"]
    second = _refresh(client, agent["asset_id"], rotated)
    assert second.status_code == 200
    newest = second.get_json()["data"]["refresh_token"]
    assert (
        _beat(client, {**agent, "agent_token": second.get_json()["data"]["agent_token"]}).status_code == 200
    )
    # The first credential was replaced twice: presenting it now means someone else holds it.
    reused = _refresh(client, agent["asset_id"], agent["refresh_token"])
    assert reused.status_code == 401
    assert _refresh(client, agent["asset_id"], newest).status_code == 401  # everything was revoked


def test_a_lost_refresh_answer_may_be_retried_once_however_late(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    lost = _refresh(client, agent["asset_id"], agent["refresh_token"])  # the agent never sees this answer
    assert lost.status_code == 200
    with db.session() as session:  # the laptop slept for a week before it tried again
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None and asset.refresh_rotated_at is not None
        asset.refresh_rotated_at -= timedelta(days=7)
        asset.refresh_used_at = asset.refresh_rotated_at
    retried = _refresh(client, agent["asset_id"], agent["refresh_token"])
    assert retried.status_code == 200
    # The credential from the lost answer was never delivered: the retried one is what counts now.
    assert _refresh(client, agent["asset_id"], retried.get_json()["data"]["refresh_token"]).status_code == 200


def test_the_grace_is_once_and_a_thief_is_caught_by_the_next_legitimate_refresh(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    stolen = agent["refresh_token"]  # copied off the machine
    legit = _refresh(client, agent["asset_id"], stolen).get_json()["data"]  # the agent refreshes
    thief = _refresh(client, agent["asset_id"], stolen)  # the thief's looks like a lost answer...
    assert thief.status_code == 200
    assert _refresh(client, agent["asset_id"], stolen).status_code == 401  # ...but only once
    # The agent's own next refresh presents the credential the thief's request replaced: revoked.
    assert _refresh(client, agent["asset_id"], legit["refresh_token"]).status_code == 401
    assert _refresh(client, agent["asset_id"], thief.get_json()["data"]["refresh_token"]).status_code == 401
    assert _beat(client, {**agent, "agent_token": thief.get_json()["data"]["agent_token"]}).status_code == 401
    with db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.refresh_reused")).all()
        assert entries and all(e.outcome == "revoked" and e.target_id == agent["asset_id"] for e in entries)


def test_a_refresh_credential_unused_past_the_idle_time_expires(
    client: FlaskClient, db: Database, new_token: Callable[..., str], app: Flask
) -> None:
    agent = register(client, new_token())
    idle = timedelta(days=app.extensions["lanet"].settings.refresh_idle_days)
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None and asset.refresh_used_at is not None
        asset.refresh_used_at -= idle + timedelta(minutes=1)
    expired = _refresh(client, agent["asset_id"], agent["refresh_token"])
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]


def test_an_agent_registered_before_identities_enrols_one_by_refreshing(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token(), identity=None, **VICTIM)
    enrol = client.post(
        REFRESH,
        json={
            "asset_id": agent["asset_id"],
            "refresh_token": agent["refresh_token"],
            "identity_secret": "e" * 48,
        },
    )
    assert enrol.status_code == 200
    again = register(client, new_token(), identity="e" * 48, **VICTIM)
    assert again["asset_id"] == agent["asset_id"]


# --- the JWT -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("claims_change", [{"type": "user"}, {"type": None}])
def test_a_jwt_that_is_not_an_agent_token_is_refused(
    client: FlaskClient, new_token: Callable[..., str], claims_change: dict[str, Any]
) -> None:
    agent = register(client, new_token())
    claims = jwt.decode(agent["agent_token"], options={"verify_signature": False})
    claims.update(claims_change)
    claims = {k: v for k, v in claims.items() if v is not None}
    forged = jwt.encode(claims, Keys(SECRET).jwt, algorithm="HS256")
    reply = _beat(client, {**agent, "agent_token": forged})
    assert reply.status_code == 401 and reply.get_json()["code"] == "AUTH_INVALID"


def test_a_jwt_of_a_deleted_asset_gets_401_and_the_logs_stay_clean(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    with db.session() as session:
        session.delete(session.get(Asset, agent["asset_id"]))
        assert session.scalar(select(func.count()).select_from(AgentLog)) == 0
    assert _ticket(client, agent).status_code == 401


def test_a_merge_keeps_other_claimants_waiting_and_carries_the_old_configuration(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    from lanet.server.services.config_push import resolve_scope, set_override

    old = register(client, new_token(), identity="owner-" + "o" * 40, **VICTIM)
    with db.session() as session:
        set_override(session, resolve_scope(session, "asset", old["asset_id"]), "heartbeat_interval", 30, "t")
    first = register(client, new_token(), identity="first-" + "f" * 40, **VICTIM)
    second = register(client, new_token(), identity="second-" + "s" * 40, **VICTIM)
    with db.session() as session:
        newcomer = session.get(Asset, first["asset_id"])
        assert newcomer is not None
        asset_lifecycle.merge(session, newcomer, "user:tec@lanet.mx", utcnow())
    with db.session() as session:
        waiting = session.get(Asset, second["asset_id"])
        assert waiting is not None and waiting.replaces_asset_id == first["asset_id"]
    beat = _beat(client, first).get_json()["data"]
    assert beat["config_updates"] == {"heartbeat_interval": 30}
