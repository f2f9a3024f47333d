"""Bad input everywhere gets the envelope with a clear code, never a 500."""

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from lanet.server.app import create_app
from lanet.server.settings import RateLimit
from tests.conftest import make_settings
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register, register_body


def _error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.get_json()  # type: ignore[attr-defined]
    assert response.mimetype == "application/json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.get_json()  # type: ignore[attr-defined]
    assert body["success"] is False and body["code"] == code and isinstance(body["error"], str)
    return body


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"\xff\xfe\x00", b"[" * 100_000, b'{"token": "x",}', b"   "],
)
def test_malformed_json_is_400(client: FlaskClient, raw: bytes) -> None:
    _error(client.post(REGISTER, data=raw, content_type="application/json"), 400, "MALFORMED_JSON")


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_400(client: FlaskClient, raw: bytes) -> None:
    _error(client.post(REGISTER, data=raw, content_type="application/json"), 400, "MALFORMED_JSON")


def test_validation_failure_is_422_naming_each_field(client: FlaskClient) -> None:
    body = _error(
        client.post(REGISTER, json={"token": 5, "hardware_info": {"cpu_cores": "many", "ram": ["x"]}}),
        422,
        "VALIDATION_ERROR",
    )
    fields = {d["field"] for d in body["details"]}  # type: ignore[attr-defined]
    assert fields == {"token", "hardware_info.computer_name", "hardware_info.cpu_cores", "hardware_info.ram"}
    assert "hardware_info.cpu_cores" in str(body["error"])


def test_validation_errors_do_not_echo_input(client: FlaskClient) -> None:
    secret = "LANET-SECR-ETXX-" + "Q" * 40
    body = _error(client.post(REGISTER, json={"token": secret, "hardware_info": {}}), 422, "VALIDATION_ERROR")
    assert secret not in str(body)


def test_heartbeat_field_errors_are_named(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    payload = heartbeat_body(agent["asset_id"])
    payload["status"]["cpu_usage"] = 150
    payload["alerts"][0]["severity"] = "apocalyptic"
    body = _error(
        client.post(HEARTBEAT, json=payload, headers=bearer(agent["agent_token"])), 422, "VALIDATION_ERROR"
    )
    assert {d["field"] for d in body["details"]} == {"status.cpu_usage", "alerts.0.severity"}  # type: ignore[attr-defined]


def test_non_json_content_type_is_415(client: FlaskClient) -> None:
    _error(client.post(REGISTER, data={"token": "x"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    _error(client.post(REGISTER, data="token=x", content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_over_the_limit_is_413(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(database_url, tmp_path, max_body_bytes=1024))
    response = app.test_client().post(
        REGISTER, data=b"{" + b" " * 2048 + b"}", content_type="application/json"
    )
    _error(response, 413, "PAYLOAD_TOO_LARGE")


def test_default_limit_is_ten_mebibytes(client: FlaskClient) -> None:
    big = b'{"token": "' + b"A" * (10 * 1024 * 1024) + b'"}'
    _error(client.post(REGISTER, data=big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")


def test_unknown_route_is_404_and_wrong_method_is_405(client: FlaskClient) -> None:
    _error(client.get("/api/agents/nothing-here"), 404, "NOT_FOUND")
    response = client.get(HEARTBEAT)
    _error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["Allow"]
    _error(client.put(REGISTER, json={}), 405, "METHOD_NOT_ALLOWED")


def test_registration_is_rate_limited_with_retry_after(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(database_url, tmp_path, register_rate=RateLimit(3, 60)))
    client = app.test_client()
    for _ in range(3):
        assert client.post(REGISTER, json=register_body("LANET-0000-0000-000000")).status_code == 403
    response = client.post(REGISTER, json=register_body("LANET-0000-0000-000000"))
    _error(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_heartbeats_are_rate_limited_per_asset(tmp_path: Path, database_url: str) -> None:
    from lanet.server.services.credentials import Keys
    from lanet.server.services.tokens import create_token
    from tests.conftest import SECRET

    app = create_app(make_settings(database_url, tmp_path, agent_rate=RateLimit(2, 60)))
    client = app.test_client()
    with app.extensions["lanet"].db.session() as session:
        token = create_token(session, Keys(SECRET), client_name="C", site_name="S", actor="t").token
    agent = register(client, token)
    beat = heartbeat_body(agent["asset_id"])
    headers = bearer(agent["agent_token"])
    assert client.post(HEARTBEAT, json=beat, headers=headers).status_code == 200
    assert client.post(HEARTBEAT, json=beat, headers=headers).status_code == 200
    response = client.post(HEARTBEAT, json=beat, headers=headers)
    _error(response, 429, "RATE_LIMITED")
    assert int(response.headers["Retry-After"]) >= 1


def test_repeated_auth_failures_from_one_address_get_429(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(database_url, tmp_path, auth_failure_rate=RateLimit(3, 60)))
    client = app.test_client()
    beat = heartbeat_body("456e7890-e89b-12d3-a456-426614174000")
    codes = [client.post(HEARTBEAT, json=beat, headers=bearer("bad")).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]


@pytest.mark.parametrize("raw", ['"PC\\u0000"', '"\\ud800x"'])
def test_unstorable_text_is_422_naming_the_field(client: FlaskClient, raw: str) -> None:
    payload = '{"token": "LANET-0000-0000-000000", "hardware_info": {"computer_name": ' + raw + "}}"
    body = _error(
        client.post(REGISTER, data=payload, content_type="application/json"), 422, "VALIDATION_ERROR"
    )
    assert [d["field"] for d in body["details"]] == ["hardware_info.computer_name"]  # type: ignore[attr-defined]


def test_nul_in_the_query_string_or_path_is_422(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    response = client.get("/api/tickets/my-tickets?q=%00abc", headers=bearer(agent["agent_token"]))
    body = _error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in body["details"]] == ["query.q"]  # type: ignore[attr-defined]
    response = client.get("/api/tickets/TKT%00", headers=bearer(agent["agent_token"]))
    _error(response, 422, "VALIDATION_ERROR")
