"""The portal over HTTP on both databases: login, sessions, CSRF, lockout, tenant isolation on every
route, and the technicians' actions."""

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.db import Database
from lanet.server.models import AuditEntry, Command, ConfigChange, InstallToken, Ticket, User
from lanet.server.services.users import MAX_FAILURES
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body
from tests.server.portal_world import PASSWORD, Portal, Tenant, World, build_world


@pytest.fixture
def world(client: FlaskClient, db: Database, new_token: Callable[..., str]) -> World:
    return build_world(client, db, new_token)


def _portal(app: Flask) -> Portal:
    return Portal(app.test_client())


def test_login_session_cookie_and_logout(app: Flask, world: World, db: Database) -> None:
    portal = _portal(app)
    assert portal.get("/portal/assets").status_code == 302  # to the login page
    refused = portal.login(world.a.user_email, "not-the-password")
    assert refused.status_code == 401 and "incorrectos" in refused.get_data(as_text=True)
    response = portal.login(world.a.user_email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/assets")
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("lanet_portal=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/portal" in cookie
    page = portal.get("/portal/assets")
    assert page.status_code == 200 and "CAFE-PC-01" in page.get_data(as_text=True)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert portal.post("/portal/logout", csrf=False).status_code == 400  # no CSRF token
    assert portal.post("/portal/logout").status_code == 302
    assert portal.get("/portal/assets").status_code == 302
    with db.session() as session:
        outcomes = session.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "portal.login").order_by(AuditEntry.id)
        ).all()
        assert outcomes == ["bad_password", "ok"]
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "portal.logout")).first()


def test_the_login_form_needs_its_own_csrf_token(app: Flask, world: World) -> None:
    raw = app.test_client()
    response = raw.post("/portal/login", data={"email": world.a.user_email, "password": PASSWORD})
    assert response.status_code == 400 and "lanet_portal=" not in str(response.headers)


def test_repeated_failures_lock_the_account(app: Flask, world: World, db: Database) -> None:
    portal = _portal(app)
    for _ in range(MAX_FAILURES - 1):
        assert portal.login(world.b.user_email, "wrong-password").status_code == 401
    locked = portal.login(world.b.user_email, "wrong-password")
    assert locked.status_code == 403 and "bloqueada" in locked.get_data(as_text=True)
    assert portal.login(world.b.user_email).status_code == 403  # even with the right password
    with db.session() as session:
        user = session.scalars(select(User).where(User.email == world.b.user_email)).one()
        assert user.locked_until is not None
        assert (
            "locked_now"
            in session.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "portal.login")).all()
        )
    # Another account is not affected.
    assert _portal(app).login(world.a.user_email).status_code == 302


def test_an_address_without_an_account_answers_exactly_like_one_with_an_account(app: Flask) -> None:
    """The lockout must not tell an attacker which addresses have accounts: same pages, same codes."""
    portal = _portal(app)
    answers = [portal.login("nadie@ninguna-parte.mx", "wrong-password") for _ in range(MAX_FAILURES + 1)]
    assert [a.status_code for a in answers] == [401] * (MAX_FAILURES - 1) + [403, 403]
    assert "bloqueada" in answers[-1].get_data(as_text=True)


def test_too_many_failures_from_one_address_say_when_to_come_back(app: Flask, world: World) -> None:
    from lanet.server.settings import RateLimit

    app.extensions["lanet"].settings = dataclasses.replace(
        app.extensions["lanet"].settings,
        auth_failure_rate=RateLimit(3, 86400),  # no window edge in the way
    )
    portal = _portal(app)
    for n in range(3):
        portal.login(f"persona{n}@cafe.mx", "wrong-password")
    refused = portal.login(world.a.user_email)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 86400


def _routes(world: World, own: bool) -> list[tuple[str, str]]:
    tenant = world.a if own else world.b
    asset, site = tenant.agent["asset_id"], tenant.agent["site_id"]
    ticket = tenant.ticket_number
    return [
        ("GET", f"/portal/assets/{asset}"),
        ("GET", f"/portal/assets/{asset}/metrics.json?range=hour"),
        ("GET", f"/portal/assets/{asset}/patches"),
        ("GET", f"/portal/assets?site={site}"),
        ("GET", f"/portal/tickets/{ticket}"),
        ("GET", f"/portal/tickets/{ticket}/screenshot.png"),
        ("POST", f"/portal/tickets/{ticket}/comment"),
        ("POST", f"/portal/tickets/{ticket}/rate"),
    ]


STAFF_ROUTES = [
    ("GET", "/portal/tokens"),
    ("POST", "/portal/tokens"),
    ("GET", "/portal/tokens/{token}"),
    ("POST", "/portal/tokens/{token}/revoke"),
    ("GET", "/portal/config"),
    ("POST", "/portal/config"),
    ("POST", "/portal/assets/{asset}/commands"),
    ("GET", "/portal/commands/{command}"),
    ("GET", "/portal/commands/{command}.json"),
    ("POST", "/portal/tickets/{ticket}/status"),
    ("POST", "/portal/tickets/{ticket}/assign"),
    ("POST", "/portal/assets/{asset}/lifecycle"),
    ("GET", "/portal/releases"),
    ("GET", "/portal/releases/0.1.0"),
    ("POST", "/portal/releases/0.1.0/rollout"),
    ("POST", "/portal/releases/0.1.0/pause"),
    ("POST", "/portal/releases/0.1.0/resume"),
    ("POST", "/portal/assets/{asset}/patches/decide"),
    ("POST", "/portal/assets/{asset}/patches/scan"),
    ("GET", "/portal/patches/policy/asset/{asset}"),
    ("POST", "/portal/patches/policy/asset/{asset}"),
    # Without co-approval a customer decides nothing; with it, only for their own client
    # (tests/server/test_patch_portal.py).
    ("POST", "/portal/patches/queue/decide"),
]


def test_a_client_user_gets_404_for_every_route_of_another_client(
    app: Flask, world: World, db: Database
) -> None:
    portal = _portal(app)
    assert portal.login(world.a.user_email).status_code == 302
    for method, path in _routes(world, own=True):
        response = portal.get(path) if method == "GET" else portal.post(path, {"body": "ok", "rating": "9"})
        assert response.status_code in (200, 302), (
            f"{method} {path} on its own client: {response.status_code}"
        )
    for method, path in _routes(world, own=False):
        response = portal.get(path) if method == "GET" else portal.post(path, {"body": "hola", "rating": "5"})
        assert response.status_code == 404, f"{method} {path} reached another client's object"
    listing = portal.get("/portal/assets").get_data(as_text=True)
    assert "CAFE-PC-01" in listing and "FERRE-PC-07" not in listing and "Ferreteria" not in listing
    tickets = portal.get("/portal/tickets").get_data(as_text=True)
    assert world.a.ticket_number in tickets and world.b.ticket_number not in tickets
    with db.session() as session:
        token = session.scalars(select(InstallToken.id)).first()
        command = _queue(session, world.a.agent["asset_id"])
    for method, template in STAFF_ROUTES:
        path = template.format(
            token=token, asset=world.a.agent["asset_id"], command=command, ticket=world.a.ticket_number
        )
        response = portal.get(path) if method == "GET" else portal.post(path, {})
        assert response.status_code == 404, f"{method} {path} is for staff only"
    with db.session() as session:
        b_ticket = session.scalars(select(Ticket).where(Ticket.client_id == world.b.agent["client_id"])).one()
        assert not b_ticket.comments  # the refused comment left nothing behind


#: Pages that hold no client's object, so there is nothing to isolate (lists are checked above).
UNSCOPED = {
    "portal.login",
    "portal.logout",
    "portal.language",
    "portal.static",
    "portal.assets",
    "portal.tickets",
    "portal.patches_page",  # a list, scoped like the others
    "portal.patches_queue_page",  # likewise
}


def test_the_isolation_test_covers_every_portal_route(app: Flask) -> None:
    """A new route fails here until it is added to the isolation test's lists."""
    fake = "00000000-0000-4000-8000-000000000000"
    world = World(
        *(Tenant("x", {"asset_id": fake, "site_id": fake}, "TKT-000001", "x") for _ in range(2)),
        tech_email="x",
    )
    adapter = app.url_map.bind("localhost")
    covered = set()
    for method, template in [*_routes(world, own=False), *STAFF_ROUTES]:
        path = template.format(token=fake, asset=fake, command=fake, ticket="TKT-000001").split("?")[0]
        covered.add(adapter.match(path, method=method)[0])
    portal = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("portal.")}
    assert portal - UNSCOPED - covered == set()


def _queue(session: object, asset_id: str) -> str:
    from lanet.server.services.commands import queue_command

    return queue_command(session, asset_id=asset_id, type_="sh", script="echo hi", actor="test").id  # type: ignore[arg-type]


def test_forms_without_the_sessions_csrf_token_are_refused(app: Flask, world: World, db: Database) -> None:
    portal = _portal(app)
    portal.login(world.a.user_email)
    path = f"/portal/tickets/{world.a.ticket_number}/comment"
    assert portal.post(path, {"body": "sin token"}, csrf=False).status_code == 400
    assert portal.post(path, {"body": "token falso", "csrf_token": "x" * 43}, csrf=False).status_code == 400
    assert portal.post(path, {"body": "con token"}).status_code == 302
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.client_id == world.a.agent["client_id"])).one()
        bodies = [c.body for c in ticket.comments]
        assert bodies == ["con token"]


def test_asset_detail_and_live_metrics(app: Flask, world: World, client: FlaskClient) -> None:
    agent = world.a.agent
    for cpu in (20.0, 40.0):
        body = heartbeat_body(agent["asset_id"])
        body["status"]["cpu_usage"] = cpu
        body["message_id"] = f"00000000-0000-4000-8000-0000000000{int(cpu):02d}"
        assert client.post(HEARTBEAT, json=body, headers=bearer(agent["agent_token"])).status_code == 200
    portal = _portal(app)
    portal.login(world.a.user_email)
    page = portal.get(f"/portal/assets/{agent['asset_id']}").get_data(as_text=True)
    for section in (
        'id="hardware"',
        'id="software"',
        'id="services"',
        'id="updates"',
        'id="alerts"',
        'id="logs"',
    ):
        assert section in page
    assert world.a.ticket_number in page and "Ejecutar script" not in page  # scripts are for staff
    data = portal.get(f"/portal/assets/{agent['asset_id']}/metrics.json?range=hour").get_json()
    assert [p["cpu_usage"] for p in data["points"]][-2:] == [20.0, 40.0]
    assert data["now"]["cpu_usage"] == 40.0 and data["now"]["status"] in ("online", "warning")
    for name in ("day", "week"):
        points = portal.get(f"/portal/assets/{agent['asset_id']}/metrics.json?range={name}").get_json()[
            "points"
        ]
        assert points and all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", p["t"]) for p in points)
    assert portal.get(f"/portal/assets/{agent['asset_id']}/metrics.json?range=year").status_code == 400
    software = portal.get(f"/portal/assets/{agent['asset_id']}?sq=zzz-no-such").get_data(as_text=True)
    assert "Sin resultados" in software


def test_a_technician_creates_and_revokes_a_token_queues_a_script_and_pushes_config(
    app: Flask, world: World, db: Database
) -> None:
    portal = _portal(app)
    portal.login(world.tech_email)
    listing = portal.get("/portal/assets").get_data(as_text=True)
    assert "CAFE-PC-01" in listing and "FERRE-PC-07" in listing
    bad = portal.post("/portal/tokens", {"client": "Nuevo", "site": "Centro", "max_uses": "cero"})
    assert bad.status_code == 422 and "Usos máximos" in bad.get_data(as_text=True)
    made = portal.post(
        "/portal/tokens", {"client": "Nuevo Cliente", "site": "Centro", "max_uses": "3", "expires_days": "7"}
    )
    text = made.get_data(as_text=True)
    token = re.search(r"LANET-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{6}", text)
    assert made.status_code == 200 and token
    with db.session() as session:
        record = session.scalars(select(InstallToken).where(InstallToken.max_uses == 3)).one()
        record_id = record.id
    assert portal.post(f"/portal/tokens/{record_id}/revoke").status_code == 302
    assert "Inactivo" in portal.get(f"/portal/tokens/{record_id}").get_data(as_text=True)

    asset = world.b.agent["asset_id"]
    queued = portal.post(
        f"/portal/assets/{asset}/commands", {"type": "sh", "script": "echo hola", "timeout": "30"}
    )
    assert queued.status_code == 302
    command_page = portal.get(queued.headers["Location"])
    assert command_page.status_code == 200 and "echo hola" in command_page.get_data(as_text=True)
    with db.session() as session:
        command = session.scalars(select(Command).where(Command.asset_id == asset)).one()
        assert command.queued_by == f"user:{world.tech_email}"
    assert portal.get(f"/portal/commands/{command.id}.json").get_json()["status"] == "queued"
    refused = portal.post(f"/portal/assets/{asset}/commands", {"type": "cobol", "script": "x"})
    assert refused.status_code == 422 and "cobol" in refused.get_data(as_text=True)

    too_high = portal.post(
        "/portal/config", {"scope": "client", "target": world.a.name, "key": "cpu_threshold", "value": "500"}
    )
    assert too_high.status_code == 422 and "cpu_threshold: " in too_high.get_data(as_text=True)
    unknown = portal.post(
        "/portal/config", {"scope": "client", "target": world.a.name, "key": "favourite_colour", "value": "1"}
    )
    assert unknown.status_code == 422 and "favourite_colour: " in unknown.get_data(as_text=True)
    saved = portal.post(
        "/portal/config",
        {"scope": "client", "target": world.a.name, "key": "heartbeat_interval", "value": "30"},
    )
    assert saved.status_code == 302
    with db.session() as session:
        change = session.scalars(select(ConfigChange)).one()
        assert change.new_value == {"v": 30} and change.changed_by == f"user:{world.tech_email}"


def test_searches_match_any_named_column_case_insensitively(app: Flask, world: World) -> None:
    tech = _portal(app)
    tech.login(world.tech_email)
    ferre = tech.get("/portal/assets?q=ferre").get_data(as_text=True)
    assert "FERRE-PC-07" in ferre and "CAFE-PC-01" not in ferre
    by_user = tech.get(f"/portal/tickets?q={world.b.user_email.upper()}").get_data(as_text=True)
    assert world.b.ticket_number in by_user and world.a.ticket_number not in by_user
    by_text = tech.get("/portal/tickets?q=problema en cafe").get_data(as_text=True)
    assert world.a.ticket_number in by_text and world.b.ticket_number not in by_text
    by_number = tech.get(f"/portal/tickets?q={world.b.ticket_number}").get_data(as_text=True)
    assert world.b.ticket_number in by_number and world.a.ticket_number not in by_number
    nothing = tech.get("/portal/tickets?q=zzz-no-such").get_data(as_text=True)
    assert world.a.ticket_number not in nothing and world.b.ticket_number not in nothing


def test_technicians_work_a_ticket_and_internal_comments_stay_internal(app: Flask, world: World) -> None:
    tech = _portal(app)
    tech.login(world.tech_email)
    number = world.b.ticket_number
    assert tech.post(f"/portal/tickets/{number}/assign", {"technician": "Técnico Uno"}).status_code == 302
    assert tech.post(f"/portal/tickets/{number}/status", {"status": "en_progreso"}).status_code == 302
    tech.post(f"/portal/tickets/{number}/comment", {"body": "Nota solo para técnicos", "internal": "1"})
    tech.post(f"/portal/tickets/{number}/comment", {"body": "Vamos en camino"})
    page = tech.get(f"/portal/tickets/{number}").get_data(as_text=True)
    assert "Nota solo para técnicos" in page and "Técnico Uno" in page
    customer = _portal(app)
    customer.login(world.b.user_email)
    seen = customer.get(f"/portal/tickets/{number}").get_data(as_text=True)
    assert "Vamos en camino" in seen and "Nota solo para técnicos" not in seen
    assert (
        customer.post(f"/portal/tickets/{number}/rate", {"rating": "5"})
        .headers["Location"]
        .endswith("notice=rating_refused")
    )
    tech.post(f"/portal/tickets/{number}/status", {"status": "resuelto"})
    assert (
        customer.post(f"/portal/tickets/{number}/rate", {"rating": "4"})
        .headers["Location"]
        .endswith("notice=rated")
    )


def test_english_on_request_and_spanish_by_default(app: Flask, world: World) -> None:
    portal = _portal(app)
    portal.login(world.a.user_email)
    assert "Equipos" in portal.get("/portal/assets").get_data(as_text=True)
    switched = portal.get("/portal/language?lang=en&next=/portal/tickets")
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/portal/tickets")
    english = portal.get("/portal/assets").get_data(as_text=True)
    assert "Devices" in english and "Equipos" not in english
    assert (
        portal.get("/portal/language?lang=en&next=https://evil.example/")
        .headers["Location"]
        .endswith("/portal/assets")
    )


PORTAL = Path(__file__).resolve().parents[2] / "src" / "lanet" / "server" / "portal"


def test_every_message_has_an_english_translation() -> None:
    from lanet.i18n import parse_po

    catalog = parse_po((PORTAL / "locale" / "en.po").read_text(encoding="utf-8"))
    sources = [*PORTAL.glob("templates/portal/*.html"), *PORTAL.glob("*.py")]
    used: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'_\("((?:[^"\\]|\\.)+)"', text))
        used |= set(re.findall(r"_\('((?:[^'\\]|\\.)+)'", text))
        used |= set(re.findall(r'gettext\("((?:[^"\\]|\\.)+)"', text))
    from lanet.server.portal.blueprint import NOTICES

    used |= {message for message, _kind in NOTICES.values()}
    missing = sorted(m for m in used if m not in catalog)
    assert not missing, f"no English for: {missing}"


def test_pages_carry_no_inline_script_or_style() -> None:
    for path in PORTAL.glob("templates/portal/*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\sstyle=|\son[a-z]+=", text), path.name


def test_a_nul_in_a_form_or_query_is_refused_and_nothing_is_written(
    app: Flask, world: World, db: Database
) -> None:
    portal = _portal(app)
    portal.login(world.a.user_email)
    assert (
        portal.post(f"/portal/tickets/{world.a.ticket_number}/comment", {"body": "a\x00b"}).status_code == 400
    )
    assert portal.get("/portal/assets?q=a%00b").status_code == 400
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.client_id == world.a.agent["client_id"])).one()
        assert not ticket.comments


def test_a_portal_module_nobody_listed_stops_the_app_instead_of_losing_its_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lanet.server import portal

    monkeypatch.setattr(portal, "ROUTE_MODULES", tuple(m for m in portal.ROUTE_MODULES if m != "staff"))
    with pytest.raises(RuntimeError, match="staff"):
        portal._import_routes()
