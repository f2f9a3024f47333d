"""Rotating ``LANET_SECRET_KEY``: every digest and JWT names the key that made it, the previous key
still verifies what it made, each credential moves to the new key when next used, and the operator
sees when the old key holds nothing any more. On both databases.

Before: the digests carried no key id, so a new secret invalidated every install token, API key and
agent credential at once.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.app import create_app
from lanet.server.cli import main as server_cli
from lanet.server.models import ApiKey, Asset, InstallToken
from lanet.server.services.apikeys import create_key
from lanet.server.services.credentials import KID_SEPARATOR, Keys, Purpose, kid_of
from lanet.server.services.key_usage import usage
from lanet.server.settings import Settings
from tests.conftest import SECRET, make_settings
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register, register_body

NEW_SECRET = "the-next-secret-key-after-rotation-0123456789"
REFRESH = "/api/agents/token/refresh"


@pytest.fixture
def rotated(settings: Settings) -> Callable[..., Flask]:
    """Apps on the same database with other keys; disposed at the end."""
    made: list[Flask] = []

    def make(secret: str, *previous: str) -> Flask:
        values = {
            k: getattr(settings, k) for k in ("database_url", "data_dir", "register_rate", "agent_rate")
        }
        application = create_app(
            make_settings(
                values["database_url"],
                values["data_dir"],
                secret_key=secret,
                previous_secret_keys=previous,
                register_rate=values["register_rate"],
                agent_rate=values["agent_rate"],
            )
        )
        made.append(application)
        return application

    yield make  # type: ignore[misc]
    for application in made:
        application.extensions["lanet"].db.dispose()


def _beat(client: FlaskClient, agent: dict[str, Any]) -> Any:
    return client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(agent["agent_token"])
    )


def test_digests_and_jwts_name_their_key() -> None:
    keys = Keys(SECRET)
    digest = keys.install_digest("LANET-AB12-CD34-EF5678")
    assert kid_of(digest) == keys.kid and len(keys.kid) == 8
    assert digest.partition(KID_SEPARATOR)[2] != digest and len(digest) == 73
    assert Keys(SECRET).kid == keys.kid != Keys(NEW_SECRET).kid  # a fingerprint, the same everywhere
    with pytest.raises(ValueError, match="repeat"):
        Keys(SECRET, [SECRET])


def test_a_rotation_keeps_every_credential_working_and_moves_each_to_the_new_key(
    app: Flask, client: FlaskClient, rotated: Callable[..., Flask], new_token: Callable[..., str]
) -> None:
    db = app.extensions["lanet"].db
    token = new_token(max_uses=5)
    agent = register(client, token)
    with db.session() as session:
        tech_key = create_key(session, Keys(SECRET), "helpdesk", "cli:admin")[1]
    old, new = Keys(SECRET), Keys(NEW_SECRET)

    after = rotated(NEW_SECRET, SECRET).test_client()
    # The JWT signed with the old key still works until it expires; new ones name the new key.
    assert _beat(after, agent).status_code == 200
    assert jwt.get_unverified_header(agent["agent_token"])["kid"] == old.kid
    # Like the agent, the refresh carries the machine's identity secret.
    identity = register_body(token)["identity_secret"]
    refreshed = after.post(
        REFRESH,
        json={
            "asset_id": agent["asset_id"],
            "refresh_token": agent["refresh_token"],
            "identity_secret": identity,
        },
    )
    assert refreshed.status_code == 200, refreshed.get_json()
    renewed = refreshed.get_json()["data"]
    assert jwt.get_unverified_header(renewed["agent_token"])["kid"] == new.kid
    # The install token still registers, and the API key still authenticates.
    second = after.post(REGISTER, json=register_body(token, machine_id="another-pc", serial_number="SN-2"))
    assert second.status_code == 201, second.get_json()
    listed = after.get(f"/api/admin/assets/{agent['asset_id']}/commands", headers=bearer(tech_key))
    assert listed.status_code == 200, listed.get_json()
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert kid_of(asset.refresh_digest) == new.kid and kid_of(asset.identity_digest) == new.kid
        assert kid_of(session.scalars(select(InstallToken)).one().token_digest) == new.kid
        assert kid_of(session.scalars(select(ApiKey)).one().key_digest) == new.kid
        rows = {row.kid: row for row in usage(session, Keys(NEW_SECRET, [SECRET]))}
    assert rows[old.kid].role == "previous" and rows[old.kid].total == 0
    assert rows[new.kid].counts == {
        "install_tokens": 1,
        "api_keys": 1,
        "refresh_credentials": 2,
        "agent_identities": 2,
    }

    # Once the old key is dropped, a JWT it signed is refused by name, and the renewed one works.
    dropped = rotated(NEW_SECRET).test_client()
    refused = _beat(dropped, agent)
    assert refused.status_code == 401 and refused.get_json()["code"] == "AUTH_INVALID"
    assert "no longer holds" in refused.get_json()["error"]
    assert _beat(dropped, {**agent, "agent_token": renewed["agent_token"]}).status_code == 200


def test_without_the_previous_key_old_credentials_are_refused(
    app: Flask, client: FlaskClient, rotated: Callable[..., Flask], new_token: Callable[..., str]
) -> None:
    token = new_token(max_uses=5)
    agent = register(client, token)
    after = rotated(NEW_SECRET).test_client()
    assert after.post(REGISTER, json=register_body(token)).get_json()["code"] == "TOKEN_INVALID"
    answer = after.post(
        REFRESH, json={"asset_id": agent["asset_id"], "refresh_token": agent["refresh_token"]}
    )
    assert answer.status_code == 401 and answer.get_json()["code"] == "REFRESH_INVALID"


def test_digests_stored_before_versioning_still_match_and_are_moved(
    app: Flask, client: FlaskClient, new_token: Callable[..., str]
) -> None:
    """A database from before key ids holds bare hex digests; they are tried against every key."""
    db = app.extensions["lanet"].db
    keys = Keys(SECRET)
    token = new_token(max_uses=5)
    agent = register(client, token)
    with db.session() as session:
        record = session.scalars(select(InstallToken)).one()
        record.token_digest = keys.current.bare(Purpose.INSTALL_TOKEN, token)
        asset = session.get(Asset, agent["asset_id"])
        asset.refresh_digest = keys.current.bare(Purpose.REFRESH_TOKEN, agent["refresh_token"])
    with db.session() as session:
        assert usage(session, keys)[-1].kid == "unversioned"
    answer = client.post(
        REFRESH, json={"asset_id": agent["asset_id"], "refresh_token": agent["refresh_token"]}
    )
    assert answer.status_code == 200, answer.get_json()
    assert client.post(REGISTER, json=register_body(token)).status_code == 201
    with db.session() as session:
        assert kid_of(session.scalars(select(InstallToken)).one().token_digest) == keys.kid
        assert kid_of(session.get(Asset, agent["asset_id"]).refresh_digest) == keys.kid


def test_rotate_status_and_retire_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LANET_SECRET_KEY", raising=False)
    monkeypatch.delenv("LANET_PREVIOUS_SECRET_KEYS", raising=False)
    monkeypatch.setenv("LANET_DATA_DIR", str(tmp_path))
    assert server_cli(["db", "upgrade"]) == 0
    first = Settings.from_env()
    assert first.previous_secret_keys == ()
    old_kid = Keys(first.secret_key).kid
    assert server_cli(["tokens", "create", "--client", "Cafe", "--site", "CDMX"]) == 0
    capsys.readouterr()

    assert server_cli(["secret-key", "rotate"]) == 0
    assert f"secret key {old_kid} replaced by" in capsys.readouterr().out
    second = Settings.from_env()
    assert second.previous_secret_keys == (first.secret_key,)
    assert oct((tmp_path / "secret.previous").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "secret.key").stat().st_mode & 0o777) == "0o600"

    assert server_cli(["secret-key", "status"]) == 0
    status = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in status.splitlines()[1:] if line.strip()}
    assert lines[Keys(second.secret_key).kid][1] == "current"
    assert lines[old_kid][1:4] == ["previous", "1", "0"]  # the token made before the rotation

    assert server_cli(["secret-key", "retire", "nosuchkey"]) == 2
    assert "no previous secret key" in capsys.readouterr().err
    assert server_cli(["secret-key", "retire", old_kid]) == 0
    assert Settings.from_env().previous_secret_keys == ()

    monkeypatch.setenv("LANET_SECRET_KEY", NEW_SECRET)
    assert server_cli(["secret-key", "rotate"]) == 2
    assert "LANET_PREVIOUS_SECRET_KEYS" in capsys.readouterr().err
    assert os.environ["LANET_SECRET_KEY"] == NEW_SECRET


def test_previous_keys_come_from_the_environment_and_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANET_SECRET_KEY", NEW_SECRET)
    monkeypatch.setenv("LANET_PREVIOUS_SECRET_KEYS", f"{SECRET}, {'b' * 40}")
    assert Settings.from_env().previous_secret_keys == (SECRET, "b" * 40)
    monkeypatch.setenv("LANET_PREVIOUS_SECRET_KEYS", "short")
    with pytest.raises(ValueError, match="at least 32"):
        Settings.from_env()
