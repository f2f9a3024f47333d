"""POST /api/agents/heartbeat: auth, state, samples, alerts, logs, replay, config push, offline."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.app import create_app
from lanet.server.db import Database
from lanet.server.models import AgentLog, Alert, Asset, MetricSample
from lanet.server.models.base import utcnow
from lanet.server.services.config_push import resolve_scope, set_override
from lanet.server.services.credentials import Keys, issue_agent_jwt
from lanet.server.services.telemetry import REPLAY_WINDOW, mark_offline
from lanet.server.settings import RateLimit
from tests.conftest import SECRET, load_fixture, make_settings
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register


def _beat(client: FlaskClient, agent: dict[str, Any], **changes: Any) -> Any:
    return client.post(
        HEARTBEAT, json=heartbeat_body(agent["asset_id"], **changes), headers=bearer(agent["agent_token"])
    )


def test_seed_heartbeat_gets_200_in_the_seeds_shape(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    response = _beat(client, agent)
    assert response.status_code == 200
    body = response.get_json()
    seed = load_fixture("seed_heartbeat_response.json")
    assert body.keys() == seed.keys()
    assert set(seed["data"]) <= set(body["data"])
    assert body["data"]["commands"] == [] and body["data"]["config_updates"] == {}
    received = body["data"]["received_at"]
    assert received.endswith("Z") and body["data"]["next_heartbeat"] > received

    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        assert asset.cpu_usage == 15.5 and asset.memory_usage == 45.2 and asset.uptime == 86400
        assert asset.last_seen is not None and asset.agent_status == "warning"  # the seed's disk alert
        assert asset.services_status == [
            {"name": "Windows Update", "status": "running"},
            {"name": "Windows Defender", "status": "running"},
        ]
        sample = session.scalars(select(MetricSample)).one()
        assert sample.disk_usage == 85.0 and sample.network_usage == 2.3
        alert = session.scalars(select(Alert)).one()
        assert (alert.type, alert.severity, alert.status, alert.threshold) == (
            "disk_space",
            "warning",
            "open",
            80,
        )
        log = session.scalars(select(AgentLog)).one()
        assert log.message == "System monitoring completed successfully" and log.level == "INFO"


def test_next_heartbeat_follows_the_interval(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    data = _beat(client, agent).get_json()["data"]
    from datetime import datetime

    received = datetime.fromisoformat(data["received_at"])
    assert datetime.fromisoformat(data["next_heartbeat"]) - received == timedelta(seconds=60)


def test_jwt_is_required_and_checked(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    body = heartbeat_body(agent["asset_id"])
    missing = client.post(HEARTBEAT, json=body)
    assert missing.status_code == 401 and missing.get_json()["code"] == "AUTH_REQUIRED"
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    garbage = client.post(HEARTBEAT, json=body, headers=bearer("not-a-jwt"))
    assert garbage.status_code == 401 and garbage.get_json()["code"] == "AUTH_INVALID"
    forged = jwt.encode({**jwt.decode(agent["agent_token"], options={"verify_signature": False})}, "x" * 32)
    assert client.post(HEARTBEAT, json=body, headers=bearer(forged)).status_code == 401
    none_alg = jwt.encode(jwt.decode(agent["agent_token"], options={"verify_signature": False}), None, "none")
    assert client.post(HEARTBEAT, json=body, headers=bearer(none_alg)).status_code == 401


def test_expired_jwt_is_401_expired(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    token, _ = issue_agent_jwt(
        Keys(SECRET),
        asset_id=agent["asset_id"],
        client_id=agent["client_id"],
        site_id=agent["site_id"],
        computer_name="DESKTOP-001",
        now=utcnow() - timedelta(hours=25),
    )
    response = client.post(HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["code"] == "AUTH_EXPIRED"


def test_jwt_of_another_asset_is_403(client: FlaskClient, new_token: Callable[..., str]) -> None:
    token = new_token()
    one = register(client, token)
    two = register(client, token, computer_name="PC-2", serial_number="S2", mac_address="00:11:22:33:44:02")
    response = client.post(
        HEARTBEAT, json=heartbeat_body(two["asset_id"]), headers=bearer(one["agent_token"])
    )
    assert response.status_code == 403 and response.get_json()["code"] == "ASSET_MISMATCH"


def test_a_replayed_message_id_is_stored_once(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    message_id = str(uuid.uuid4())
    for _ in range(3):
        assert _beat(client, agent, message_id=message_id).status_code == 200
    _beat(client, agent, message_id=str(uuid.uuid4()))
    with db.session() as session:
        assert len(session.scalars(select(MetricSample)).all()) == 2
        assert len(session.scalars(select(AgentLog)).all()) == 2
        assert session.scalars(select(Alert)).one().occurrences == 2


def test_one_open_alert_per_type_updated_then_resolved(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    cpu = {
        "type": "cpu_usage",
        "severity": "warning",
        "message": "CPU at 92%",
        "threshold": 90,
        "current_value": 92,
    }
    _beat(client, agent, alerts=[cpu], logs=[])
    _beat(
        client, agent, alerts=[{**cpu, "severity": "critical", "current_value": 99, "message": "CPU at 99%"}]
    )
    with db.session() as session:
        alert = session.scalars(select(Alert).where(Alert.type == "cpu_usage")).one()
        assert (alert.status, alert.severity, alert.current_value, alert.occurrences) == (
            "open",
            "critical",
            99,
            2,
        )
        assert session.get(Asset, agent["asset_id"]).agent_status == "warning"  # type: ignore[union-attr]
    _beat(
        client,
        agent,
        alerts=[{**cpu, "state": "resolved", "current_value": 40, "message": "CPU back to 40%"}],
    )
    with db.session() as session:
        alert = session.scalars(select(Alert).where(Alert.type == "cpu_usage")).one()
        assert alert.status == "resolved" and alert.resolved_at is not None
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None and asset.open_alerts == 0 and asset.agent_status == "online"
    _beat(client, agent, alerts=[cpu])
    with db.session() as session:
        rows = session.scalars(select(Alert).where(Alert.type == "cpu_usage").order_by(Alert.id)).all()
        assert [r.status for r in rows] == ["resolved", "open"]


def test_alerts_on_different_resources_are_separate(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    stopped = {"type": "service_stopped", "severity": "critical", "message": "stopped"}
    _beat(client, agent, alerts=[{**stopped, "resource": "Spooler"}, {**stopped, "resource": "wuauserv"}])
    with db.session() as session:
        assert session.get(Asset, agent["asset_id"]).open_alerts == 2  # type: ignore[union-attr]


def test_config_updates_are_delivered_until_applied(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    with db.session() as session:
        set_override(
            session, resolve_scope(session, "client", agent["client_id"]), "log_level", "DEBUG", "test"
        )
        set_override(
            session, resolve_scope(session, "asset", agent["asset_id"]), "heartbeat_interval", 30, "test"
        )
    first = _beat(client, agent).get_json()["data"]
    assert first["config_updates"] == {"log_level": "DEBUG", "heartbeat_interval": 30}
    revision = first["config_revision"]
    # Not yet acknowledged: offered again.
    assert _beat(client, agent).get_json()["data"]["config_updates"] == first["config_updates"]
    acked = _beat(client, agent, config_revision=revision).get_json()["data"]
    assert acked["config_updates"] == {} and acked["config_revision"] is None
    from datetime import datetime

    assert datetime.fromisoformat(acked["next_heartbeat"]) - datetime.fromisoformat(
        acked["received_at"]
    ) == timedelta(seconds=30)
    # A later change at site scope is delivered alone.
    with db.session() as session:
        set_override(session, resolve_scope(session, "site", agent["site_id"]), "cpu_threshold", 95, "test")
    later = _beat(client, agent, config_revision=revision).get_json()["data"]
    assert later["config_updates"] == {"cpu_threshold": 95} and later["config_revision"] > revision


def test_asset_scope_beats_client_scope(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    with db.session() as session:
        set_override(
            session, resolve_scope(session, "asset", agent["asset_id"]), "log_level", "ERROR", "test"
        )
        set_override(
            session, resolve_scope(session, "client", agent["client_id"]), "log_level", "DEBUG", "test"
        )
    assert _beat(client, agent).get_json()["data"]["config_updates"] == {"log_level": "ERROR"}


def test_asset_goes_offline_after_three_missed_intervals(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    _beat(client, agent)
    assert mark_offline(db, utcnow() + timedelta(seconds=179)) == 0
    assert mark_offline(db, utcnow() + timedelta(seconds=181)) == 1
    with db.session() as session:
        assert session.get(Asset, agent["asset_id"]).agent_status == "offline"  # type: ignore[union-attr]
    _beat(client, agent)
    with db.session() as session:
        assert session.get(Asset, agent["asset_id"]).agent_status != "offline"  # type: ignore[union-attr]


def test_metrics_may_be_left_out(client: FlaskClient, new_token: Callable[..., str]) -> None:
    agent = register(client, new_token())
    response = client.post(
        HEARTBEAT, json={"asset_id": agent["asset_id"]}, headers=bearer(agent["agent_token"])
    )
    assert response.status_code == 200


def test_refresh_gives_a_new_jwt_and_refuses_a_wrong_credential(
    client: FlaskClient, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    ok = client.post(
        "/api/agents/token/refresh",
        json={"asset_id": agent["asset_id"], "refresh_token": agent["refresh_token"]},
    )
    assert ok.status_code == 200
    fresh = ok.get_json()["data"]["agent_token"]
    assert _beat(client, {**agent, "agent_token": fresh}).status_code == 200
    bad = client.post(
        "/api/agents/token/refresh", json={"asset_id": agent["asset_id"], "refresh_token": "lrt_" + "x" * 40}
    )
    assert bad.status_code == 401 and bad.get_json()["code"] == "REFRESH_INVALID"


def test_inventory_upload_replaces_software_and_reports_change(
    client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    hardware = load_fixture("seed_register_request.json")["hardware_info"]
    url = "/api/agents/inventory"
    same = client.post(
        url,
        json={"asset_id": agent["asset_id"], "hardware_info": hardware},
        headers=bearer(agent["agent_token"]),
    )
    assert same.status_code == 200 and same.get_json()["data"]["changed"] is False
    hardware["installed_software"].append({"name": "7-Zip", "version": "23.01", "install_date": "2024-01-05"})
    changed = client.post(
        url,
        json={"asset_id": agent["asset_id"], "hardware_info": hardware},
        headers=bearer(agent["agent_token"]),
    )
    assert changed.get_json()["data"]["changed"] is True
    from lanet.server.models import AssetSoftware

    with db.session() as session:
        names = sorted(session.scalars(select(AssetSoftware.name)))
        assert names == ["7-Zip", "Google Chrome", "Microsoft Office"]


def _next_window(seconds: int) -> None:
    """Wait for the start of the next fixed rate-limit window (Unix time multiple of ``seconds``)."""
    time.sleep(seconds - time.time() % seconds + 0.05)


def test_the_replay_window_is_the_last_heartbeats_and_a_refused_one_is_stored_on_retry(
    database_url: str, tmp_path: Path, new_token: Callable[..., str]
) -> None:
    """A refused heartbeat (over the rate limit) leaves no trace in the replay window, so its retry is
    stored; the window holds the last REPLAY_WINDOW ids, so a replay from further back is stored again."""
    app = create_app(make_settings(database_url, tmp_path, agent_rate=RateLimit(3, 5)))
    client = app.test_client()
    db: Database = app.extensions["lanet"].db
    try:
        agent = register(client, new_token())
        _next_window(5)
        stored = 0
        while True:
            refused_id = str(uuid.uuid4())
            if _beat(client, agent, message_id=refused_id).status_code == 429:
                break
            stored += 1
        assert stored == 3
        _next_window(5)
        assert _beat(client, agent, message_id=refused_id).status_code == 200
        assert _beat(client, agent, message_id=refused_id).status_code == 200  # a replay
        with db.session() as session:
            assert len(session.scalars(select(MetricSample)).all()) == stored + 1
            recent = session.get(Asset, agent["asset_id"])
            assert recent is not None and recent.recent_messages is not None
            assert recent.recent_messages.split(",")[0] == refused_id
            assert len(recent.recent_messages.split(",")) <= REPLAY_WINDOW
    finally:
        db.dispose()
