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
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, patch_item, register

SCAN = "/api/agents/patches/scan"


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
    first = _scan(
        agent, [patch_item("openssl", "3.0.15"), patch_item("curl", "7.88.2", "other")], reboot_pending=True
    )
    answer = client.post(SCAN, json=first, headers=auth)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["data"]["applicable"] == 2
    # Sent again after a lost answer: stored once.
    assert client.post(SCAN, json=first, headers=auth).get_json()["data"]["applicable"] == 2
    listed = _listed(agent, capsys)
    assert [(u["update_id"], u["classification"], u["state"]) for u in listed["updates"]] == [
        ("openssl=3.0.15", "security", "available"),
        ("curl=7.88.2", "other", "available"),
    ]
    assert listed["reboot_pending"] is True

    # curl was installed some other way: the next scan no longer lists it.
    later = _scan(agent, [patch_item("openssl", "3.0.15")])
    assert client.post(SCAN, json=later, headers=auth).get_json()["data"]["applicable"] == 1
    assert [u["update_id"] for u in _listed(agent, capsys)["updates"]] == ["openssl=3.0.15"]
    gone = _listed(agent, capsys, "--all")["updates"]
    assert [(u["update_id"], u["applicable"]) for u in gone] == [
        ("openssl=3.0.15", True),
        ("curl=7.88.2", False),
    ]

    # A scan that waited in an outbox (older than the newest) and a failed scan: history only.
    stale = _scan(
        agent, [patch_item("zlib", "1.3")], scanned_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat()
    )
    assert client.post(SCAN, json=stale, headers=auth).get_json()["data"]["applicable"] == 1
    failed = _scan(
        agent, [], error="apt-get -s dist-upgrade failed (100): E: The list of sources could not be read."
    )
    assert client.post(SCAN, json=failed, headers=auth).get_json()["data"]["applicable"] == 1
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
        (_scan(agent, [patch_item("bad name!", "1")]), "items.0.update_id"),
        (_scan(agent, [patch_item("x", "1", classification="urgent")]), "items.0.classification"),
        (_scan(agent, [patch_item("x", "1", title="t" * 501)]), "items.0.title"),
        (_scan(agent, [patch_item("x", "1", kb=["5034441"])]), "items.0.kb.0"),
        (_scan(agent, [patch_item(f"p{i}", "1") for i in range(5001)]), "items"),
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
    assert (
        client.post(SCAN, json=_scan(agent, [patch_item("openssl", "3.0.15")]), headers=auth).status_code
        == 200
    )
    with db.session() as session:
        assert session.get(PatchScanRequest, agent["asset_id"]) is None
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "patches.scan_requested")
        ).all()
    assert [(a.target_id, a.actor.startswith("cli:")) for a in audited] == [(agent["asset_id"], True)]
    assert server_cli(["patches", "scan", "--asset", "00000000-0000-4000-8000-000000000000"]) != 0


def test_policies_and_decisions_decide_each_update_and_are_audited(
    client: FlaskClient, agent: dict[str, Any], db: Any, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = bearer(agent["agent_token"])
    scan = _scan(agent, [patch_item("openssl", "3.0.15"), patch_item("vim", "9.0.2", "feature")])
    assert client.post(SCAN, json=scan, headers=auth).status_code == 200

    def decided() -> dict[str, tuple[str, str]]:
        return {
            u["update_id"]: (u["decision"], u["decision_reason"]) for u in _listed(agent, capsys)["updates"]
        }

    assert decided() == {
        "openssl=3.0.15": ("available", "waiting for a technician's approval"),
        "vim=9.0.2": ("available", "waiting for a technician's approval"),
    }
    rule = '[{"classifications": ["security", "critical"], "after_days": 0}]'
    assert (
        server_cli(
            ["patches", "policy", "set", "--client", "Cafe", f"auto_rules={rule}", "window_start=22:30"]
        )
        == 0
    )
    assert decided()["openssl=3.0.15"] == ("approved", "approved automatically (security, after 0 d)")
    capsys.readouterr()
    assert server_cli(["patches", "policy", "show", "--asset", agent["asset_id"]]) == 0
    effective = json.loads(capsys.readouterr().out)["effective"]
    assert effective["window"] == {"start": "22:30", "minutes": 120, "days": [0, 1, 2, 3, 4, 5, 6]}
    # A denial wins over the rule; an approval lets the feature update through.
    assert (
        server_cli(["patches", "deny", "openssl=3.0.15", "--client", "Cafe", "--reason", "breaks the ERP"])
        == 0
    )
    assert server_cli(["patches", "approve", "vim=9.0.2", "--client", "Cafe"]) == 0
    now = decided()
    assert now["openssl=3.0.15"][0] == "denied" and now["vim=9.0.2"][0] == "approved"
    # Bad settings change nothing and say which setting is wrong.
    capsys.readouterr()
    assert server_cli(["patches", "policy", "set", "--client", "Cafe", "reboot=sometimes"]) != 0
    assert "reboot: one of never, in_window, ask_user" in capsys.readouterr().err
    assert server_cli(["patches", "policy", "set", "--client", "Nadie", "reboot=never"]) != 0
    with db.session() as session:
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.action.like("patches.%")))
        ]
        events = {
            (e.update_id, e.state)
            for e in session.scalars(select(PatchEvent).where(PatchEvent.actor != "agent"))
        }
    assert sorted(actions) == ["patches.approve", "patches.deny", "patches.policy_changed"]
    assert events == {("openssl=3.0.15", "denied"), ("vim=9.0.2", "approved")}


def test_technicians_do_the_same_through_the_api(client: FlaskClient, agent: dict[str, Any], db: Any) -> None:
    from lanet.server.services.apikeys import create_key
    from lanet.server.services.credentials import Keys
    from tests.conftest import SECRET

    with db.session() as session:
        key = create_key(session, Keys(SECRET), "helpdesk", "cli:admin")[1]
    tech = bearer(key)
    base = f"/api/admin/patches/assets/{agent['asset_id']}"
    assert client.get(base).status_code == 401
    assert (
        client.get("/api/admin/patches/assets/00000000-0000-4000-8000-000000000000", headers=tech).status_code
        == 404
    )
    empty = client.get(base, headers=tech).get_json()["data"]
    assert (empty["items"], empty["last_scan"]) == ([], None)
    assert client.post(f"{base}/scan", headers=tech).status_code == 200
    scan = _scan(agent, [patch_item("openssl", "3.0.15"), patch_item("vim", "9.0.2", "feature")])
    assert client.post(SCAN, json=scan, headers=bearer(agent["agent_token"])).status_code == 200

    policy = "/api/admin/patches/policies/client/Cafe"
    bad = client.put(policy, json={"settings": {"window_minutes": 5000}}, headers=tech)
    assert (
        bad.status_code == 422 and "window_minutes: a whole number from 1 to 1440" in bad.get_json()["error"]
    )
    rules = [{"classifications": ["security"], "after_days": 0}]
    done = client.put(policy, json={"settings": {"auto_rules": rules}}, headers=tech)
    assert done.status_code == 200 and done.get_json()["data"]["settings"] == {"auto_rules": rules}
    decided = client.post(
        "/api/admin/patches/clients/Cafe/decisions",
        json={"update_id": "vim=9.0.2", "decision": "deny"},
        headers=tech,
    )
    assert decided.status_code == 200, decided.get_json()
    items = {
        i["update_id"]: i["decision"] for i in client.get(base, headers=tech).get_json()["data"]["items"]
    }
    assert items == {"openssl=3.0.15": "approved", "vim=9.0.2": "denied"}
    effective = client.get(f"/api/admin/patches/policies/asset/{agent['asset_id']}", headers=tech).get_json()[
        "data"
    ]
    assert effective["effective"]["auto_rules"][0]["classifications"] == ["security"]
    unknown = client.post(
        "/api/admin/patches/clients/Nadie/decisions",
        json={"update_id": "vim=9.0.2", "decision": "deny"},
        headers=tech,
    )
    assert unknown.status_code == 404
    wrong = client.post(
        "/api/admin/patches/clients/Cafe/decisions",
        json={"update_id": "vim 9", "decision": "maybe"},
        headers=tech,
    )
    assert wrong.status_code == 422
    assert {d["field"] for d in wrong.get_json()["details"]} == {"update_id", "decision"}


REPORT = "/api/agents/patches/report"


def test_the_scan_answer_carries_the_plan_and_install_reports_move_each_update(
    client: FlaskClient, agent: dict[str, Any], db: Any, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = bearer(agent["agent_token"])
    items = [
        patch_item("openssl", "3.0.15"),
        patch_item("vim", "9.0.2", "feature"),
        patch_item("zlib", "1.3"),
    ]
    plan = client.post(SCAN, json=_scan(agent, items), headers=auth).get_json()["data"]["plan"]
    assert plan["install"] == [] and plan["window_start"] == "02:00" and plan["now"] is False
    assert server_cli(["patches", "approve", "openssl=3.0.15", "--client", "Cafe"]) == 0
    assert server_cli(["patches", "approve", "zlib=1.3", "--client", "Cafe"]) == 0
    assert server_cli(["patches", "deny", "vim=9.0.2", "--client", "Cafe"]) == 0
    # The decisions asked the machine for a scan: its answer brings the new plan.
    assert server_cli(["patches", "install", "--asset", agent["asset_id"], "--now"]) == 0
    plan = client.post(SCAN, json=_scan(agent, items), headers=auth).get_json()["data"]["plan"]
    assert plan["install"] == ["openssl=3.0.15", "zlib=1.3"] and plan["now"] is True

    report = {
        "asset_id": agent["asset_id"],
        "report_id": str(uuid.uuid4()),
        "at": datetime.now(UTC).isoformat(),
        "plan_revision": plan["revision"],
        "results": [
            {"update_id": "openssl=3.0.15", "state": "installed", "installed_version": "3.0.15"},
            {"update_id": "zlib=1.3", "state": "failed", "reason": "E: Unable to fetch", "error_code": "100"},
        ],
        "dry_run": "Inst openssl [1.0] (3.0.15 Debian-Security [amd64])",
    }
    answer = client.post(REPORT, json=report, headers=auth)
    assert answer.status_code == 200 and answer.get_json()["data"] == {"recorded": 2}
    assert client.post(REPORT, json=report, headers=auth).get_json()["data"] == {"recorded": 0}
    states = {u["update_id"]: (u["state"], u["current_version"]) for u in _listed(agent, capsys)["updates"]}
    assert states == {
        "openssl=3.0.15": ("installed", "3.0.15"),
        "vim=9.0.2": ("available", "1.0"),
        "zlib=1.3": ("failed", "1.0"),
    }
    # Installed is not planned again; the failed one is tried again in the next window.
    plan = client.post(SCAN, json=_scan(agent, items), headers=auth).get_json()["data"]["plan"]
    assert plan["install"] == ["zlib=1.3"] and plan["now"] is False
    with db.session() as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "patches.install_reported")
        ).one()
        assert audited.outcome == "failed" and audited.details["counts"] == {"installed": 1, "failed": 1}
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "patches.install_now")).one()
        failed = session.scalars(select(PatchEvent).where(PatchEvent.state == "failed")).one()
        assert failed.reason == "E: Unable to fetch (error 100)"
    bad = {
        **report,
        "report_id": str(uuid.uuid4()),
        "results": [{"update_id": "zlib=1.3", "state": "exploded"}],
    }
    refused = client.post(REPORT, json=bad, headers=auth)
    assert refused.status_code == 422 and refused.get_json()["details"][0]["field"] == "results.0.state"


def test_the_portal_shows_compliance_and_lets_technicians_decide(
    app: Flask, client: FlaskClient, agent: dict[str, Any], db: Any
) -> None:
    from lanet.server.services.users import create_user
    from tests.server.portal_world import PASSWORD, Portal

    auth = bearer(agent["agent_token"])
    scan = _scan(
        agent, [patch_item("openssl", "3.0.15"), patch_item("vim", "9.0.2", "feature")], reboot_pending=True
    )
    assert client.post(SCAN, json=scan, headers=auth).status_code == 200
    with db.session() as session:
        create_user(session, email="tec@lanet.mx", role="technician", password=PASSWORD, actor="test")
        create_user(
            session,
            email="ana@cafe.mx",
            role="client_admin",
            password=PASSWORD,
            actor="test",
            client_ref="Cafe",
        )
    tech = Portal(app.test_client())
    assert tech.login("tec@lanet.mx").status_code == 302
    overview = tech.get("/portal/patches").get_data(as_text=True)
    assert "Actualizaciones del sistema" in overview and "Con reinicio pendiente" in overview
    page = tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert "openssl 1.0 → 3.0.15" in page and "Seguridad" in page and "Funcionalidad" in page
    assert "Aprobar" in page and "Reinicio pendiente" in page
    done = tech.post(
        f"/portal/assets/{agent['asset_id']}/patches/decide",
        {"update_id": "openssl=3.0.15", "decision": "approve"},
    )
    assert done.status_code == 302 and "notice=patch_approved" in done.headers["Location"]
    bad = tech.post(
        f"/portal/assets/{agent['asset_id']}/patches/decide", {"update_id": "x y", "decision": "approve"}
    )
    assert "notice=patch_invalid" in bad.headers["Location"]
    assert "Aprobada" in tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert (
        tech.post(f"/portal/assets/{agent['asset_id']}/patches/scan", {"install_now": "1"}).status_code == 302
    )

    customer = Portal(app.test_client())
    assert customer.login("ana@cafe.mx").status_code == 302
    own = customer.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert "openssl 1.0 → 3.0.15" in own and "Aprobar" not in own
    assert "Equipos" in customer.get("/portal/patches").get_data(as_text=True)
    refused = customer.post(
        f"/portal/assets/{agent['asset_id']}/patches/decide",
        {"update_id": "vim=9.0.2", "decision": "approve"},
    )
    assert refused.status_code == 404
    with db.session() as session:
        actions = {
            (a.action, a.actor)
            for a in session.scalars(select(AuditEntry).where(AuditEntry.action.like("patches.%")))
        }
    assert {("patches.approve", "user:tec@lanet.mx"), ("patches.install_now", "user:tec@lanet.mx")} <= actions


def test_each_reboot_step_is_kept_audited_with_the_pc_user_and_shown_in_the_portal(
    app: Flask, client: FlaskClient, agent: dict[str, Any], db: Any
) -> None:
    from lanet.server.services.users import create_user
    from tests.server.portal_world import PASSWORD, Portal

    auth = bearer(agent["agent_token"])
    kernel = patch_item("linux-image-amd64", "6.1.119-1", reboot_required=True)
    client.post(SCAN, json=_scan(agent, [kernel]), headers=auth)

    def step(state: str, reboot: dict[str, Any]) -> Any:
        body = {
            "asset_id": agent["asset_id"],
            "report_id": str(uuid.uuid4()),
            "at": datetime.now(UTC).isoformat(),
            "plan_revision": "r1",
            "results": [{"update_id": "linux-image-amd64=6.1.119-1", "state": state}],
            "reboot_pending": state == "reboot_pending",
            "reboot": reboot,
        }
        return client.post(REPORT, json=body, headers=auth)

    deadline = "2026-12-05T10:00:00Z"
    assert step("reboot_pending", {"action": "asked", "deadline": deadline}).status_code == 200
    deferred = {"action": "deferred", "trigger": "user", "account": "OFICINA\\maria", "deferrals": 1}
    assert step("reboot_pending", {**deferred, "deadline": deadline}).status_code == 200
    assert step("reboot_pending", {"action": "restarting", "trigger": "deadline"}).status_code == 200
    assert step("verified", {"action": "rebooted", "trigger": "deadline"}).status_code == 200
    bad = step("verified", {"action": "exploded"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "reboot.action"
    with db.session() as session:
        audited = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == "patches.reboot").order_by(AuditEntry.id)
            )
        )
        assert [a.details["action"] for a in audited] == ["asked", "deferred", "restarting", "rebooted"]
        assert (
            audited[1].details["account"] == "OFICINA\\maria"
            and audited[1].actor == f"agent:{agent['asset_id']}"
        )
        create_user(session, email="tec@lanet.mx", role="technician", password=PASSWORD, actor="test")
    tech = Portal(app.test_client())
    tech.login("tec@lanet.mx")
    page = tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert "El usuario lo pospuso (OFICINA\\maria) · 1" in page
    assert "Equipo reiniciado al vencer el plazo" in page and "Verificada" in page
    assert "Reinicio: en la ventana, si hace falta" in page
