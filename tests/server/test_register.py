"""POST /api/agents/register-with-token: the seed's flow, the five token states, history and audit."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lanet.server.db import Database
from lanet.server.models import Asset, AssetService, AssetSoftware, AuditEntry, InstallToken, TokenUsage
from lanet.server.models.base import utcnow
from lanet.server.services.credentials import Keys
from lanet.server.services.tokens import find_token, revoke_token
from tests.conftest import SECRET, load_fixture
from tests.server.helpers import REGISTER, register, register_body


def test_seed_example_registers_with_201_in_the_seeds_shape(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    token = new_token()
    response = client.post(REGISTER, json=register_body(token), headers={"User-Agent": "lanet-agent/0.1"})
    assert response.status_code == 201
    body = response.get_json()
    seed = load_fixture("seed_register_response.json")
    assert body.keys() == seed.keys() and body["success"] is True
    assert set(seed["data"]) <= set(body["data"])
    assert body["data"]["config"].keys() == seed["data"]["config"].keys()
    assert body["data"]["config"]["backend_url"] == "http://localhost/api"
    assert body["data"]["registered_at"].endswith("Z")
    assert body["data"]["client_name"] == "Cafe Mexico S.A. de C.V."

    with db.session() as session:
        asset = session.get(Asset, body["data"]["asset_id"])
        assert asset is not None and asset.computer_name == "DESKTOP-001"
        assert asset.hardware["cpu"] == "Intel i7-12700K"
        assert session.scalar(select(func.count()).select_from(AssetSoftware)) == 2
        assert session.scalar(select(func.count()).select_from(AssetService)) == 2
        usage = session.scalars(select(TokenUsage)).one()
        assert usage.outcome == "registered" and usage.computer_name == "DESKTOP-001"
        assert usage.ip_address == "127.0.0.1" and usage.user_agent == "lanet-agent/0.1"
        record = find_token(session, Keys(SECRET), token)
        assert record is not None and record.usage_count == 1 and record.last_used_at is not None
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.register")).one()
        assert audit.outcome == "registered" and audit.client_id == asset.client_id


def test_jwt_carries_exactly_the_seeds_claims_for_24_hours(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    data = register(client, new_token())
    claims = jwt.decode(data["agent_token"], options={"verify_signature": False})
    assert set(claims) == {"asset_id", "client_id", "site_id", "computer_name", "type", "exp", "iat"}
    assert claims["type"] == "agent" and claims["computer_name"] == "DESKTOP-001"
    assert claims["asset_id"] == data["asset_id"] and claims["site_id"] == data["site_id"]
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert jwt.get_unverified_header(data["agent_token"])["alg"] == "HS256"


def test_refresh_credential_is_stored_only_as_a_digest(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    data = register(client, new_token())
    assert data["refresh_token"].startswith("lrt_")
    with db.session() as session:
        asset = session.get(Asset, data["asset_id"])
        assert asset is not None and asset.refresh_digest
        assert data["refresh_token"] not in asset.refresh_digest
        assert asset.refresh_digest == Keys(SECRET).refresh_digest(data["refresh_token"])
        token_row = session.scalars(select(InstallToken)).one()
        assert "AEB0F9" not in token_row.token_digest


def test_same_machine_gets_its_asset_back_with_a_fresh_jwt(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    token = new_token()
    first = register(client, token)
    second = register(client, token, os="Windows 11 Pro", os_version="23H2")
    assert second["asset_id"] == first["asset_id"] and second["existing_asset"] is True
    assert second["refresh_token"] != first["refresh_token"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 1
        assert session.get(Asset, first["asset_id"]).os_version == "23H2"  # type: ignore[union-attr]
        outcomes = list(session.scalars(select(TokenUsage.outcome).order_by(TokenUsage.id)))
        assert outcomes == ["registered", "reregistered"]


def test_another_machine_gets_another_asset(client: FlaskClient, new_token: Callable[..., str]) -> None:
    token = new_token()
    first = register(client, token)
    other = register(
        client, token, serial_number="XYZ987", mac_address="00:11:22:33:44:66", computer_name="DESKTOP-002"
    )
    assert other["asset_id"] != first["asset_id"]


def test_machine_id_identifies_a_machine_across_renames(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    token = new_token()
    first = register(client, token, machine_id="f1e2d3c4b5a6", computer_name="OLD-NAME")
    second = register(client, token, machine_id="f1e2d3c4b5a6", computer_name="NEW-NAME")
    assert second["asset_id"] == first["asset_id"]


def _refusal(client: FlaskClient, token: str) -> tuple[int, dict[str, Any]]:
    response = client.post(REGISTER, json=register_body(token))
    return response.status_code, response.get_json()


def test_malformed_token_is_400_and_recorded(client: FlaskClient, db: Database) -> None:
    status, body = _refusal(client, "LANET-bad")
    assert status == 400 and body["code"] == "TOKEN_MALFORMED" and body["success"] is False
    with db.session() as session:
        usage = session.scalars(select(TokenUsage)).one()
        assert usage.outcome == "TOKEN_MALFORMED" and usage.token_id is None


def test_unknown_token_is_403_invalid(client: FlaskClient, db: Database) -> None:
    status, body = _refusal(client, "LANET-550E-660E-AEB0F9")
    assert status == 403 and body["code"] == "TOKEN_INVALID"
    assert "does not exist" in body["error"]
    with db.session() as session:
        assert session.scalars(select(TokenUsage.outcome)).one() == "TOKEN_INVALID"
        assert session.scalars(select(AuditEntry.outcome)).one() == "TOKEN_INVALID"


def test_revoked_token_is_403_inactive(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    token = new_token()
    with db.session() as session:
        record = find_token(session, Keys(SECRET), token)
        assert record is not None and revoke_token(session, record, "test")
    status, body = _refusal(client, token)
    assert status == 403 and body["code"] == "TOKEN_INACTIVE"
    with db.session() as session:
        usage = session.scalars(select(TokenUsage)).one()
        assert usage.outcome == "TOKEN_INACTIVE" and usage.token_id is not None


def test_expired_token_is_403_expired(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    token = new_token(expires_days=1)
    with db.session() as session:
        record = find_token(session, Keys(SECRET), token)
        assert record is not None
        record.expires_at = utcnow() - timedelta(seconds=1)
    status, body = _refusal(client, token)
    assert status == 403 and body["code"] == "TOKEN_EXPIRED"


def test_used_up_token_is_403_used(client: FlaskClient, new_token: Callable[..., str], db: Database) -> None:
    token = new_token(max_uses=1)
    register(client, token)
    response = client.post(
        REGISTER,
        json=register_body(
            token, serial_number="OTHER1", computer_name="PC-2", mac_address="00:11:22:33:44:77"
        ),
    )
    assert response.status_code == 403 and response.get_json()["code"] == "TOKEN_USED"
    with db.session() as session:
        record = find_token(session, Keys(SECRET), token)
        assert record is not None and record.usage_count == 1
        assert session.scalar(select(func.count()).select_from(Asset)) == 1


def test_single_use_token_repeat_by_the_same_machine_is_not_refused(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    """The agent's first 201 may be lost on the way back; its retry must not strand it."""
    token = new_token(max_uses=1)
    first = register(client, token)
    again = register(client, token)
    assert again["asset_id"] == first["asset_id"]


@pytest.mark.parametrize("whitespace", [" ", "\n"])
def test_surrounding_whitespace_is_tolerated(
    client: FlaskClient, new_token: Callable[..., str], whitespace: str
) -> None:
    token = new_token()
    response = client.post(REGISTER, json=register_body(whitespace + token + whitespace))
    assert response.status_code == 201
