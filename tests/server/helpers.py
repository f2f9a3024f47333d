"""Request helpers shared by the server tests."""

import copy
import hashlib
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import load_fixture

REGISTER = "/api/agents/register-with-token"
HEARTBEAT = "/api/agents/heartbeat"


def register_body(token: str, *, identity: str | None = "", **hardware: Any) -> dict[str, Any]:
    """The seed's exact registration example with another token (and optional hardware changes).

    Like a real agent it carries an identity secret, by default one of this machine's own (made
    from its machine id, serial and MAC, so the same test machine proves itself across calls);
    ``identity=None`` leaves it out, as the seed's example does.
    """
    body: dict[str, Any] = copy.deepcopy(load_fixture("seed_register_request.json"))
    body["token"] = token
    body["hardware_info"].update(hardware)
    if identity == "":
        hw = body["hardware_info"]
        basis = f"{hw.get('machine_id')}|{hw.get('serial_number')}|{hw.get('mac_address')}"
        identity = "test-identity-" + hashlib.sha256(basis.encode()).hexdigest()
    if identity is not None:
        body["identity_secret"] = identity
    return body


def heartbeat_body(asset_id: str, **changes: Any) -> dict[str, Any]:
    """The seed's exact heartbeat example for ``asset_id``."""
    body: dict[str, Any] = copy.deepcopy(load_fixture("seed_heartbeat_request.json"))
    body["asset_id"] = asset_id
    body.update(changes)
    return body


def register(
    client: FlaskClient, token: str, *, identity: str | None = "", **hardware: Any
) -> dict[str, Any]:
    response = client.post(REGISTER, json=register_body(token, identity=identity, **hardware))
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}


def patch_item(package: str, version: str, classification: str = "security", **extra: Any) -> dict[str, Any]:
    """One apt update as a scan lists it (``<package>=<version>``, from 1.0)."""
    return {
        "update_id": f"{package}={version}",
        "source": "apt",
        "title": f"{package} 1.0 → {version}",
        "package": package,
        "current_version": "1.0",
        "available_version": version,
        "classification": classification,
        "size_bytes": 1000,
        **extra,
    }
