"""Request helpers shared by the server tests."""

import copy
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import load_fixture

REGISTER = "/api/agents/register-with-token"
HEARTBEAT = "/api/agents/heartbeat"


def register_body(token: str, **hardware: Any) -> dict[str, Any]:
    """The seed's exact registration example with another token (and optional hardware changes)."""
    body: dict[str, Any] = copy.deepcopy(load_fixture("seed_register_request.json"))
    body["token"] = token
    body["hardware_info"].update(hardware)
    return body


def heartbeat_body(asset_id: str, **changes: Any) -> dict[str, Any]:
    """The seed's exact heartbeat example for ``asset_id``."""
    body: dict[str, Any] = copy.deepcopy(load_fixture("seed_heartbeat_request.json"))
    body["asset_id"] = asset_id
    body.update(changes)
    return body


def register(client: FlaskClient, token: str, **hardware: Any) -> dict[str, Any]:
    response = client.post(REGISTER, json=register_body(token, **hardware))
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}
