"""GET /api/health: 200 with a reachable database, 503 without one."""

from pathlib import Path

from flask.testing import FlaskClient

from lanet.server.app import create_app
from tests.conftest import free_port, make_settings


def test_health_is_200_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json()["data"]["database"] == "ok"


def test_health_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    response = create_app(make_settings(url, tmp_path)).test_client().get("/api/health")
    assert response.status_code == 503 and response.get_json()["code"] == "UNAVAILABLE"
