"""Two clients with an asset, a ticket and users each: the world the portal tests look at."""

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from lanet.server.db import Database
from lanet.server.services.users import create_user
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register

PASSWORD = "correcto-caballo-bateria"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Tenant:
    name: str
    agent: dict[str, Any]
    ticket_number: str
    user_email: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    a: Tenant
    b: Tenant
    tech_email: str


def build_world(client: FlaskClient, db: Database, new_token: Callable[..., str]) -> World:
    tenants = []
    for name, site, computer, email, role in (
        ("Cafe Mexico S.A. de C.V.", "Oficina Principal CDMX", "CAFE-PC-01", "ana@cafe.mx", "client_admin"),
        ("Ferreteria Norte", "Monterrey", "FERRE-PC-07", "beto@ferre.mx", "solicitante"),
    ):
        agent = register(client, new_token(name, site), computer_name=computer)
        beat = client.post(
            HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
        )
        assert beat.status_code == 200, beat.get_json()
        made = client.post(
            "/api/tickets/create-from-agent",
            json={
                "description": f"Problema en {computer}\nNo imprime",
                "category": "impresora",
                "priority": "alta",
                "asset_id": agent["asset_id"],
                "client_id": agent["client_id"],
                "site_id": agent["site_id"],
                "reporter_name": email,
                "screenshot_png_base64": base64.b64encode(PNG).decode(),
            },
            headers=bearer(agent["agent_token"]),
        )
        assert made.status_code == 201, made.get_json()
        with db.session() as session:
            create_user(session, email=email, role=role, password=PASSWORD, actor="test", client_ref=name)
        tenants.append(Tenant(name, agent, made.get_json()["data"]["number"], email))
    with db.session() as session:
        create_user(
            session,
            email="tec@lanet.mx",
            role="technician",
            password=PASSWORD,
            actor="test",
            name="Técnico Uno",
        )
    return World(tenants[0], tenants[1], "tec@lanet.mx")


class Portal:
    """A browser-like session over the Flask test client: logs in and sends forms with their CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def login(self, email: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/portal/login")
        token = _CSRF.search(page.get_data(as_text=True))
        assert token, "the login page carries a CSRF token"
        response = self.client.post(
            "/portal/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        if response.status_code == 302:
            landing = self.client.get("/portal/assets")
            found = _CSRF.search(landing.get_data(as_text=True))
            self.csrf = found.group(1) if found else None
        return response

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        form = dict(data or {})
        if csrf and self.csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(path, data=form)
