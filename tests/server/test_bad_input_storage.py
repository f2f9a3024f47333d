"""Input that the models used to accept and the storage could not hold, or that broke a page: each
once answered 500 with a traceback in the log. On both databases."""

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lanet.server.db import Database
from lanet.server.models import Asset
from lanet.server.services.commands import queue_command
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register, register_body
from tests.server.portal_world import _CSRF, PASSWORD, Portal, build_world

CREATE = "/api/tickets/create-from-agent"
RESULT = "/api/agents/commands/result"
OVERFLOWING_TIMESTAMPS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """Fails the test if anything logged an unhandled error (a 500 with its traceback)."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def _ticket_body(agent: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "description": "No imprime",
        "category": "impresora",
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
    }
    body.update(changes)
    return body


def _queue(db: Database, asset_id: str) -> str:
    with db.session() as session:
        return queue_command(session, asset_id=asset_id, type_="batch", script="exit /b -1", actor="test").id


@pytest.mark.parametrize("exit_code", [3221225477, 4294967295, -(2**31), -9, 0])
def test_windows_and_posix_exit_codes_are_stored(
    client: FlaskClient, db: Database, new_token: Callable[..., str], exit_code: int, no_server_errors: None
) -> None:
    agent = register(client, new_token())
    command_id = _queue(db, agent["asset_id"])
    reply = client.post(
        RESULT,
        json={"command_id": command_id, "status": "failed", "exit_code": exit_code},
        headers=bearer(agent["agent_token"]),
    )
    assert reply.status_code == 200, reply.get_json()
    from lanet.server.models import Command

    with db.session() as session:
        assert session.get(Command, command_id).exit_code == exit_code  # type: ignore[union-attr]


@pytest.mark.parametrize("exit_code", [2**32, -(2**31) - 1])
def test_exit_codes_no_os_gives_are_refused_by_name(
    client: FlaskClient, db: Database, new_token: Callable[..., str], exit_code: int
) -> None:
    agent = register(client, new_token())
    reply = client.post(
        RESULT,
        json={"command_id": _queue(db, agent["asset_id"]), "status": "failed", "exit_code": exit_code},
        headers=bearer(agent["agent_token"]),
    )
    assert reply.status_code == 422
    assert [d["field"] for d in reply.get_json()["details"]] == ["exit_code"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("processes_count", 2**31), ("threads_count", 2**40), ("config_revision", 2**31)],
)
def test_integers_beyond_their_columns_are_refused_by_name(
    client: FlaskClient, new_token: Callable[..., str], field: str, value: int, no_server_errors: None
) -> None:
    agent = register(client, new_token())
    body = heartbeat_body(agent["asset_id"])
    if field == "config_revision":
        body[field] = value
    else:
        body["status"][field] = value
    reply = client.post(HEARTBEAT, json=body, headers=bearer(agent["agent_token"]))
    assert reply.status_code == 422, reply.get_json()
    assert reply.get_json()["details"][0]["field"].endswith(field)
    body = heartbeat_body(agent["asset_id"])
    body["status"]["processes_count"] = 2**31 - 1
    assert client.post(HEARTBEAT, json=body, headers=bearer(agent["agent_token"])).status_code == 200


@pytest.mark.parametrize("when", OVERFLOWING_TIMESTAMPS)
def test_timestamps_that_overflow_in_utc_are_refused_everywhere(
    client: FlaskClient, db: Database, new_token: Callable[..., str], when: str, no_server_errors: None
) -> None:
    token = new_token()
    unauthenticated = client.post(REGISTER, json=register_body(token, warranty_expires=when))
    assert unauthenticated.status_code == 422
    assert unauthenticated.get_json()["details"][0]["field"] == "hardware_info.warranty_expires"
    agent = register(client, token)
    beat = client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"], sent_at=when), headers=bearer(agent["agent_token"])
    )
    assert beat.status_code == 422
    assert beat.get_json()["details"][0]["field"] == "sent_at"
    result = client.post(
        RESULT,
        json={"command_id": _queue(db, agent["asset_id"]), "status": "succeeded", "finished_at": when},
        headers=bearer(agent["agent_token"]),
    )
    assert result.status_code == 422
    assert result.get_json()["details"][0]["field"] == "finished_at"


def test_a_sample_dated_in_the_future_is_dated_by_the_server(
    client: FlaskClient, db: Database, new_token: Callable[..., str]
) -> None:
    from sqlalchemy import select

    from lanet.server.models import MetricSample
    from lanet.server.models.base import utcnow

    agent = register(client, new_token())
    body = heartbeat_body(agent["asset_id"], sent_at="2090-01-01T00:00:00Z")
    assert client.post(HEARTBEAT, json=body, headers=bearer(agent["agent_token"])).status_code == 200
    with db.session() as session:
        sampled = session.scalars(select(MetricSample.sampled_at)).one()
    assert abs((sampled - utcnow()).total_seconds()) < 60


@pytest.mark.parametrize(
    "ref", ["TKT-²", "TKT-" + "9" * 25, "TKT-", "TKT-2147483648", "TKT-00000000000000001x"]
)
def test_ticket_references_no_ticket_can_have_are_404(
    client: FlaskClient, new_token: Callable[..., str], ref: str, no_server_errors: None
) -> None:
    agent = register(client, new_token())
    for method, path, body in (
        ("get", f"/api/tickets/{ref}", None),
        ("post", f"/api/tickets/{ref}/comments", {"body": "hola"}),
        ("post", f"/api/tickets/{ref}/rate", {"rating": 5}),
    ):
        reply = getattr(client, method)(path, json=body, headers=bearer(agent["agent_token"]))
        assert reply.status_code == 404, (path, reply.get_json())


@pytest.mark.parametrize("q", ["5512345678", "TKT-99999999999", "2147483648", "²³"])
def test_searching_for_a_phone_number_finds_text_not_a_server_error(
    client: FlaskClient, new_token: Callable[..., str], q: str, no_server_errors: None
) -> None:
    agent = register(client, new_token())
    made = client.post(
        CREATE,
        json=_ticket_body(agent, description="Llamar al 5512345678"),
        headers=bearer(agent["agent_token"]),
    )
    assert made.status_code == 201
    reply = client.get(f"/api/tickets/my-tickets?q={q}", headers=bearer(agent["agent_token"]))
    assert reply.status_code == 200
    found = [item["description"] for item in reply.get_json()["data"]["items"]]
    assert found == (["Llamar al 5512345678"] if q == "5512345678" else [])


def _nested_list(depth: int) -> Any:
    value: Any = "fondo"
    for _ in range(depth):
        value = [value]
    return value


def _nested(depth: int) -> Any:
    value: Any = "fondo"
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    ("raw_info", "status"),
    [
        (json.dumps(_nested(900)), 422),
        (json.dumps(_nested_list(20)), 422),
        ('{"cpu": NaN}', 400),
        ('{"cpu": Infinity}', 400),
        ('{"cpu": -Infinity}', 400),
        ('{"cpu": 1e400}', 400),
        ('{"ram": 123456789012345678901234567890}', 422),
    ],
)
def test_free_form_ticket_information_is_bounded(
    client: FlaskClient, new_token: Callable[..., str], raw_info: str, status: int, no_server_errors: None
) -> None:
    agent = register(client, new_token())
    body = json.dumps(_ticket_body(agent, auto_info="@INFO@")).replace('"@INFO@"', raw_info)
    if raw_info.startswith("["):
        body = json.dumps(_ticket_body(agent, auto_info={"lista": "@L@"})).replace('"@L@"', raw_info)
    reply = client.post(
        CREATE, data=body, content_type="application/json", headers=bearer(agent["agent_token"])
    )
    assert reply.status_code == status, reply.get_json()
    if status == 422:
        assert reply.get_json()["details"][0]["field"] == "auto_info"
    listed = client.get("/api/tickets/my-tickets", headers=bearer(agent["agent_token"]))
    assert listed.get_json()["data"]["items"] == []


def test_information_at_the_bounds_is_kept_and_shown(
    client: FlaskClient, new_token: Callable[..., str], no_server_errors: None
) -> None:
    agent = register(client, new_token())
    info = {"deep": _nested(14), "big": 2**63 - 1, "small": -(2**63), "x": 12.75, "y": 1.5e10}
    made = client.post(CREATE, json=_ticket_body(agent, auto_info=info), headers=bearer(agent["agent_token"]))
    assert made.status_code == 201, made.get_json()
    shown = client.get(
        f"/api/tickets/{made.get_json()['data']['number']}", headers=bearer(agent["agent_token"])
    )
    assert shown.status_code == 200
    assert shown.get_json()["data"]["auto_info"] == info


def test_a_ticket_for_a_deleted_asset_is_refused_not_failed(
    client: FlaskClient, db: Database, new_token: Callable[..., str], no_server_errors: None
) -> None:
    agent = register(client, new_token())
    with db.session() as session:
        session.delete(session.get(Asset, agent["asset_id"]))
    for method, path, body in (
        ("post", CREATE, _ticket_body(agent)),
        ("get", "/api/tickets/my-tickets", None),
        ("post", HEARTBEAT, heartbeat_body(agent["asset_id"])),
    ):
        reply = getattr(client, method)(path, json=body, headers=bearer(agent["agent_token"]))
        assert reply.status_code == 401, (path, reply.get_json())


def test_portal_error_pages_render_for_every_404_and_405(
    app: Flask, client: FlaskClient, db: Database, new_token: Callable[..., str], no_server_errors: None
) -> None:
    world = build_world(client, db, new_token)
    for logged_in in (False, True):
        if logged_in:
            assert Portal(client).login(world.a.user_email).status_code == 302
        for method, path, status in (
            ("get", "/portal/nowhere", 404),
            ("get", "/portal/assets/not-an-asset", 404),
            ("get", "/portal/assets/a%00b", 404),
            ("get", "/portal/tickets/TKT-%C2%B2", 404),
            ("delete", "/portal/login", 405),
            ("put", "/portal/assets", 405),
        ):
            reply = getattr(client, method)(path)
            if not logged_in and reply.status_code == 302:  # an existing page asks for a login first
                assert "/portal/login" in reply.headers["Location"]
                continue
            assert reply.status_code in (status, 400), (path, reply.status_code)
            assert reply.mimetype == "text/html", path
            page = reply.get_data(as_text=True)
            assert "<title>" in page and "LANET" in page, page[:500]


@pytest.mark.parametrize(
    "target",
    [
        "/portal/assets\r\nSet-Cookie: x=1",
        "/portal/%0d%0aLocation:%20https://evil.example",
        "//evil.example/x",
    ],
)
def test_next_after_login_cannot_split_headers_or_leave_the_site(
    client: FlaskClient, db: Database, new_token: Callable[..., str], target: str, no_server_errors: None
) -> None:
    world = build_world(client, db, new_token)
    page = client.get("/portal/login", query_string={"next": target})
    assert page.status_code == 200
    token = _CSRF.search(page.get_data(as_text=True))
    assert token is not None
    reply = client.post(
        "/portal/login",
        data={
            "email": world.a.user_email,
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": target,
        },
    )
    assert reply.status_code == 302
    location = reply.headers.get("Location", "")
    assert "\r" not in location and "\n" not in location
    assert location.startswith("/portal/") and not location.startswith("//")
    assert "evil" not in location and "Set-Cookie" not in str(reply.headers.get_all("Set-Cookie"))
