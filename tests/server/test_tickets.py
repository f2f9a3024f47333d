"""Tickets from the agent, on both databases: numbering, dedupe, isolation, comments, rating."""

import base64
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.db import Database
from lanet.server.models import AuditEntry, Ticket
from lanet.server.services import tickets as ticket_service
from tests.server.helpers import bearer, register

CREATE = "/api/tickets/create-from-agent"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _body(agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The seed's TicketCreator body."""
    return {
        "description": "Mi computadora está muy lenta desde esta mañana\ny se congela cuando abro Excel...",
        "category": "hardware",
        "priority": "media",
        "channel": "agente",
        "auto_info": {"cpu": 85, "ram": 92, "disk": 78, "ip": "192.168.1.100"},
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
        "created_by_agent": True,
        **extra,
    }


def _create(client: FlaskClient, agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post(CREATE, json=_body(agent, **extra), headers=bearer(agent["agent_token"]))
    assert response.status_code in (200, 201), response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def test_the_seeds_body_creates_a_numbered_ticket(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    response = client.post(
        CREATE,
        json=_body(agent, reporter_name="Juan Pérez", screenshot_png_base64=base64.b64encode(PNG).decode()),
        headers=bearer(agent["agent_token"]),
    )
    assert response.status_code == 201
    first = response.get_json()["data"]
    assert first["number"] == "TKT-000001" and first["status"] == "nuevo" and first["channel"] == "agente"
    assert first["subject"] == "Mi computadora está muy lenta desde esta mañana"
    assert first["has_screenshot"] is True and first["created_by_agent"] is True
    assert _create(client, agent)["number"] == "TKT-000002"
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == 1)).one()
        assert ticket.attachments[0].data == PNG and ticket.auto_info == {
            "cpu": 85,
            "ram": 92,
            "disk": 78,
            "ip": "192.168.1.100",
        }
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == ticket.id)).all() == [
            "ticket.create"
        ]


def test_a_retried_ticket_is_created_once(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    client_id = str(uuid.uuid4())
    first = _create(client, agent, client_ticket_id=client_id)
    again = client.post(
        CREATE, json=_body(agent, client_ticket_id=client_id), headers=bearer(agent["agent_token"])
    )
    assert again.status_code == 200 and again.get_json()["data"]["number"] == first["number"]
    assert _create(client, agent)["number"] == "TKT-000002"


def test_numbers_are_never_reused(client: FlaskClient, new_token: Callable[..., str], db: Database) -> None:
    agent = register(client, new_token())
    first = _create(client, agent)
    with db.session() as session:
        session.delete(session.get(Ticket, first["id"]))
    assert _create(client, agent)["number"] == "TKT-000002"


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        ({"category": "plomeria"}, 422, "category"),
        ({"priority": "urgente"}, 422, "priority"),
        ({"screenshot_png_base64": "not base64!"}, 422, "screenshot_png_base64"),
        ({"screenshot_png_base64": base64.b64encode(b"GIF89a....").decode()}, 422, "screenshot_png_base64"),
        ({"site_id": "660e8400-e29b-41d4-a716-446655440001"}, 403, "site_id"),
    ],
)
def test_bad_tickets_are_refused_naming_the_field(
    client: FlaskClient, new_token: Callable[..., str], extra: dict[str, Any], status: int, field: str
) -> None:
    agent = register(client, new_token())
    response = client.post(CREATE, json=_body(agent, **extra), headers=bearer(agent["agent_token"]))
    assert response.status_code == status
    assert field in {d["field"] for d in response.get_json()["details"]}


def test_an_agent_reaches_only_its_own_assets_tickets(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    mine = register(client, new_token())
    other = register(
        client,
        new_token("Otro Cliente", "Norte"),
        computer_name="PC-9",
        serial_number="Z9",
        mac_address="00:11:22:33:44:99",
    )
    ticket = _create(client, mine)
    for ref in (ticket["number"], ticket["id"]):
        assert client.get(f"/api/tickets/{ref}", headers=bearer(other["agent_token"])).status_code == 404
        assert client.get(f"/api/tickets/{ref}", headers=bearer(mine["agent_token"])).status_code == 200
    assert (
        client.post(
            f"/api/tickets/{ticket['number']}/comments",
            json={"body": "hola"},
            headers=bearer(other["agent_token"]),
        ).status_code
        == 404
    )
    listed = client.get("/api/tickets/my-tickets", headers=bearer(other["agent_token"])).get_json()["data"]
    assert listed == {"items": [], "open_count": 0}
    assert client.get("/api/tickets/my-tickets").status_code == 401


def test_my_tickets_search_and_open_count(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    _create(client, agent, reporter_name="Juan Pérez")
    _create(client, agent, description="La impresora no imprime", category="impresora", reporter_name="Ana")
    with db.session() as session:
        printer = session.scalars(select(Ticket).where(Ticket.number == 2)).one()
        ticket_service.set_status(session, printer, "resuelto", "cli:tech")
    headers = bearer(agent["agent_token"])
    everything = client.get("/api/tickets/my-tickets", headers=headers).get_json()["data"]
    assert [t["number"] for t in everything["items"]] == ["TKT-000002", "TKT-000001"] and everything[
        "open_count"
    ] == 1
    found = client.get("/api/tickets/my-tickets?q=impresora", headers=headers).get_json()["data"]
    assert [t["number"] for t in found["items"]] == ["TKT-000002"]
    by_number = client.get("/api/tickets/my-tickets?q=TKT-000001", headers=headers).get_json()["data"]
    assert [t["number"] for t in by_number["items"]] == ["TKT-000001"]
    juan = client.get("/api/tickets/my-tickets?reporter=juan pérez", headers=headers).get_json()["data"]
    assert [t["number"] for t in juan["items"]] == ["TKT-000001"] and juan["open_count"] == 1


def test_comments_history_and_rating(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    headers = bearer(agent["agent_token"])
    ticket = _create(client, agent, reporter_name="Juan Pérez")
    number = ticket["number"]
    early = client.post(f"/api/tickets/{number}/rate", json={"rating": 5}, headers=headers)
    assert early.status_code == 409
    with db.session() as session:
        row = ticket_service.find(session, number)
        assert row is not None
        ticket_service.assign(session, row, "María González", "cli:tech")
        ticket_service.add_comment(
            session,
            row,
            author="María González",
            kind="technician",
            body="Revisando el equipo",
            actor="cli:tech",
        )
        ticket_service.add_comment(
            session,
            row,
            author="María González",
            kind="technician",
            body="nota interna",
            public=False,
            actor="cli:tech",
        )
        ticket_service.set_status(session, row, "resuelto", "cli:tech")
    comment = client.post(f"/api/tickets/{number}/comments", json={"body": "¡Gracias!"}, headers=headers)
    assert comment.status_code == 201 and comment.get_json()["data"]["author"] == "Juan Pérez"
    detail = client.get(f"/api/tickets/{number}", headers=headers).get_json()["data"]
    assert detail["assigned_to"] == "María González" and detail["status"] == "resuelto"
    assert [c["body"] for c in detail["comments"]] == ["Revisando el equipo", "¡Gracias!"]  # no internal note
    assert [(h["field"], h["new"]) for h in detail["history"]] == [
        ("status", "nuevo"),
        ("assigned_to", "María González"),
        ("status", "asignado"),
        ("status", "resuelto"),
    ]
    rated = client.post(
        f"/api/tickets/{number}/rate", json={"rating": 5, "comment": "Excelente"}, headers=headers
    )
    assert rated.status_code == 200 and rated.get_json()["data"]["rating"] == 5
    assert client.post(f"/api/tickets/{number}/rate", json={"rating": 1}, headers=headers).status_code == 409
    assert client.post(f"/api/tickets/{number}/rate", json={"rating": 6}, headers=headers).status_code == 422


def test_categories_have_spanish_and_english_labels(client: FlaskClient) -> None:
    items = client.get("/api/tickets/categories").get_json()["data"]["items"]
    ids = [c["id"] for c in items]
    assert {"hardware", "software", "red", "impresora", "correo", "accesos", "otro"} <= set(ids)
    assert {c["id"]: c["label_es"] for c in items}["impresora"] == "Impresora"
    assert {c["id"]: c["label_en"] for c in items}["red"] == "Network and Internet"


def test_critical_alerts_open_a_ticket_once_when_auto_tickets_are_on(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    from lanet.server.services.config_push import resolve_scope, set_override
    from tests.server.helpers import HEARTBEAT, heartbeat_body

    agent = register(client, new_token())
    critical = {
        "type": "disk_space",
        "severity": "critical",
        "message": "Disk C: is 97% full",
        "resource": "C:",
        "threshold": 85,
        "current_value": 97,
    }
    headers = bearer(agent["agent_token"])
    client.post(HEARTBEAT, json=heartbeat_body(agent["asset_id"], alerts=[critical]), headers=headers)
    with db.session() as session:
        assert session.scalars(select(Ticket)).all() == []  # off by default
        set_override(
            session, resolve_scope(session, "asset", agent["asset_id"]), "auto_ticket_creation", True, "t"
        )
    cpu = {
        "type": "cpu_usage",
        "severity": "critical",
        "message": "CPU at 99%",
        "threshold": 90,
        "current_value": 99,
    }
    warning = {"type": "memory_usage", "severity": "warning", "message": "Memory at 91%"}
    for _ in range(2):
        client.post(
            HEARTBEAT,
            json=heartbeat_body(agent["asset_id"], alerts=[critical, cpu, warning]),
            headers=headers,
        )
    with db.session() as session:
        opened = session.scalars(select(Ticket).order_by(Ticket.number)).all()
        assert [(t.priority, t.channel, t.created_by_agent) for t in opened] == [
            ("critica", "agente", True)
        ] * 2
        assert len({t.alert_id for t in opened}) == 2
        assert "Disk C: is 97% full" in opened[0].subject


def test_a_critical_alert_whose_ticket_was_lost_to_a_crash_gets_it_from_maintenance(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    from datetime import timedelta

    from lanet.protocol.heartbeat import Alert as AlertMessage
    from lanet.server.maintenance import maintenance_pass
    from lanet.server.models.base import utcnow
    from lanet.server.services import alerts
    from lanet.server.services.config_push import resolve_scope, set_override

    agent = register(client, new_token())
    with db.session() as session:
        set_override(
            session, resolve_scope(session, "asset", agent["asset_id"]), "auto_ticket_creation", True, "t"
        )
    now = utcnow()
    raised = AlertMessage(
        type="disk_space", severity="critical", message="Disk C: is 99% full", resource="C:"
    )
    stale = AlertMessage(type="service_stopped", severity="critical", message="Spooler stopped")
    with db.engine.begin() as conn:  # the heartbeat's transaction commits; the server stops there
        alerts.record(conn, agent["asset_id"], [raised], now)
        alerts.record(conn, agent["asset_id"], [stale], now - timedelta(hours=2))
    with db.session() as session:
        assert session.scalars(select(Ticket)).all() == []
    maintenance_pass(db)
    maintenance_pass(db)  # again: nothing twice
    with db.session() as session:
        opened = session.scalars(select(Ticket)).all()
        assert [t.subject.split("] ", 1)[1] for t in opened] == ["Disk C: is 99% full"]
        assert opened[0].priority == "critica" and opened[0].category == "hardware"
