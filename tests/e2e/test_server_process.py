"""The server as a user runs it: ``lanet-server`` processes on loopback, plain and over TLS."""

import json
import ssl
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, private_ca, start_server
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register_body

pytestmark = pytest.mark.e2e


def test_readme_flow_cli_token_then_seed_register_and_heartbeat(live_server: LiveServer) -> None:
    created = live_server.cli(
        "tokens", "create", "--client", "Cafe Mexico S.A. de C.V.", "--site", "Oficina Principal CDMX"
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    response = requests.post(live_server.url + REGISTER, json=register_body(token), timeout=10)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["config"]["backend_url"] == live_server.url + "/api"
    beat = requests.post(
        live_server.url + HEARTBEAT,
        json=heartbeat_body(data["asset_id"]),
        headers=bearer(data["agent_token"]),
        timeout=10,
    )
    assert beat.status_code == 200 and set(beat.json()["data"]) >= {
        "received_at",
        "next_heartbeat",
        "commands",
        "config_updates",
    }
    listed = live_server.cli("assets", "list", "--json")
    assets = json.loads(listed.stdout)
    assert [(a["asset_id"], a["computer_name"], a["agent_status"]) for a in assets] == [
        (data["asset_id"], "DESKTOP-001", "warning")
    ]
    tokens = live_server.cli("tokens", "list", "--json")
    assert json.loads(tokens.stdout)[0]["usage_count"] == 1


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return private_ca(tmp_path_factory.mktemp("tls"))


def test_https_refuses_anything_below_tls_1_3(tmp_path: Path, tls_material: tuple[Path, Path, Path]) -> None:
    ca_path, cert_path, key_path = tls_material
    server = start_server(
        tmp_path / "srv",
        f"sqlite:///{tmp_path / 'lanet.db'}",
        certfile=str(cert_path),
        keyfile=str(key_path),
        verify=str(ca_path),
    )
    try:
        modern = ssl.create_default_context(cafile=str(ca_path))
        with urllib.request.urlopen(server.url + "/api/health", context=modern, timeout=10) as reply:
            assert reply.status == 200
        old = ssl.create_default_context(cafile=str(ca_path))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(Exception) as info:
            urllib.request.urlopen(server.url + "/api/health", context=old, timeout=10)
        assert "version" in str(info.value).lower() or "handshake" in str(info.value).lower()
        # Certificate verification is on by default for clients: an unknown CA is refused.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/api/health", timeout=10)
    finally:
        server.stop()


def test_openapi_document_is_served_and_names_every_agent_route(live_server: LiveServer) -> None:
    spec = requests.get(live_server.url + "/api/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.1")
    for path in (
        "/api/agents/register-with-token",
        "/api/agents/heartbeat",
        "/api/agents/token/refresh",
        "/api/agents/inventory",
        "/api/health",
    ):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/agents/heartbeat"]["post"]["security"] == [{"agentJWT": []}]
