"""OS update scans on the server: stored once, the latest scan decides what is applicable, a failed
or late scan is history only, bad input is refused by field, and a technician's "scan now" reaches
the agent once through the heartbeat's answer."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lanet.server.cli import main as server_cli
from lanet.server.models import AuditEntry, PatchEvent, PatchScanRecord, PatchScanRequest
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register

SCAN = "/api/agents/patches/scan"


def _item(package: str, version: str, classification: str = "security", **extra: Any) -> dict[str, Any]:
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


def _scan(agent: dict[str, Any], items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "asset_id": agent["asset_id"],
        "scan_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(UTC).isoformat(),
        "source": "apt",
        "items": items,
        **extra,
    }


@pytest.fixture
def agent(client: FlaskClient, new_token: Callable[..., str]) -> dict[str, Any]:
    return register(client, new_token(client_name="Cafe", site_name="CDMX"))


@pytest.fixture
def cli_env(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = app.extensions["lanet"].settings
    monkeypatch.setenv("LANET_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LANET_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANET_SECRET_KEY", settings.secret_key)


def _listed(agent: dict[str, Any], capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert server_cli(["patches", "list", "--asset", agent["asset_id"], "--json", *extra]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_the_latest_scan_decides_what_is_applicable_and_each_change_is_history(
    client: FlaskClient, agent: dict[str, Any], db: Any, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = bearer(agent["agent_token"])
    first = _scan(agent, [_item("openssl", "3.0.15"), _item("curl", "7.88.2", "other")], reboot_pending=True)
    answer = client.post(SCAN, json=first, headers=auth)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["data"] == {"applicable": 2}
    # Sent again after a lost answer: stored once.
    assert client.post(SCAN, json=first, headers=auth).get_json()["data"] == {"applicable": 2}
    listed = _listed(agent, capsys)
    assert [(u["update_id"], u["classification"], u["state"]) for u in listed["updates"]] == [
        ("openssl=3.0.15", "security", "available"),
        ("curl=7.88.2", "other", "available"),
    ]
    assert listed["reboot_pending"] is True

    # curl was installed some other way: the next scan no longer lists it.
    later = _scan(agent, [_item("openssl", "3.0.15")])
    assert client.post(SCAN, json=later, headers=auth).get_json()["data"] == {"applicable": 1}
    assert [u["update_id"] for u in _listed(agent, capsys)["updates"]] == ["openssl=3.0.15"]
    gone = _listed(agent, capsys, "--all")["updates"]
    assert [(u["update_id"], u["applicable"]) for u in gone] == [
        ("openssl=3.0.15", True),
        ("curl=7.88.2", False),
    ]

    # A scan that waited in an outbox (older than the newest) and a failed scan: history only.
    stale = _scan(
        agent, [_item("zlib", "1.3")], scanned_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat()
    )
    assert client.post(SCAN, json=stale, headers=auth).get_json()["data"] == {"applicable": 1}
    failed = _scan(
        agent, [], error="apt-get -s dist-upgrade failed (100): E: The list of sources could not be read."
    )
    assert client.post(SCAN, json=failed, headers=auth).get_json()["data"] == {"applicable": 1}
    capsys.readouterr()
    assert server_cli(["patches", "list", "--asset", agent["asset_id"]]) == 0
    text = capsys.readouterr().out
    assert "the scan failed: apt-get -s dist-upgrade failed (100)" in text and "openssl=3.0.15" in text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PatchScanRecord)) == 4
        events = [
            (e.update_id, e.reason) for e in session.scalars(select(PatchEvent).order_by(PatchEvent.at))
        ]
    assert ("curl=7.88.2", "no longer listed by the scan") in events
    assert not any(update_id == "zlib=1.3" for update_id, _reason in events)


def test_bad_scans_are_refused_by_field_and_store_nothing(
    client: FlaskClient, agent: dict[str, Any], new_token: Callable[..., str], db: Any
) -> None:
    auth = bearer(agent["agent_token"])
    for bad, field in (
        (_scan(agent, [_item("bad name!", "1")]), "items.0.update_id"),
        (_scan(agent, [_item("x", "1", classification="urgent")]), "items.0.classification"),
        (_scan(agent, [_item("x", "1", title="t" * 501)]), "items.0.title"),
        (_scan(agent, [_item("x", "1", kb=["5034441"])]), "items.0.kb.0"),
        (_scan(agent, [_item(f"p{i}", "1") for i in range(5001)]), "items"),
        (_scan(agent, [], scan_id="not-a-uuid"), "scan_id"),
    ):
        answer = client.post(SCAN, json=bad, headers=auth)
        assert answer.status_code == 422, (field, answer.get_json())
        assert field in [d["field"] for d in answer.get_json()["details"]], answer.get_json()
    other = register(
        client, new_token(client_name="Otro", site_name="Norte"), machine_id="o", serial_number="O"
    )
    assert client.post(SCAN, json=_scan(other, []), headers=auth).status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PatchScanRecord)) == 0


def test_a_scan_request_reaches_the_agent_once_and_ends_with_its_scan(
    app: Flask,
    client: FlaskClient,
    agent: dict[str, Any],
    db: Any,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app.extensions["lanet"].scan_requests.seconds = 0  # every heartbeat reads the requests afresh
    auth = bearer(agent["agent_token"])

    def asked() -> bool:
        answer = client.post(HEARTBEAT, json=heartbeat_body(agent["asset_id"]), headers=auth)
        assert answer.status_code == 200, answer.get_json()
        return bool(answer.get_json()["data"]["patch_scan"])

    assert asked() is False
    assert server_cli(["patches", "scan", "--asset", agent["asset_id"]]) == 0
    assert "scans at its next heartbeat" in capsys.readouterr().out
    assert asked() is True
    assert asked() is False  # carried once (again only if no scan came back within 10 minutes)
    assert client.post(SCAN, json=_scan(agent, [_item("openssl", "3.0.15")]), headers=auth).status_code == 200
    with db.session() as session:
        assert session.get(PatchScanRequest, agent["asset_id"]) is None
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "patches.scan_requested")
        ).all()
    assert [(a.target_id, a.actor.startswith("cli:")) for a in audited] == [(agent["asset_id"], True)]
    assert server_cli(["patches", "scan", "--asset", "00000000-0000-4000-8000-000000000000"]) != 0
