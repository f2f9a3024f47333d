"""Patch management in the portal beyond one machine: the approval queue across a client's
machines, each scope's policy form (inheritance shown, bad values refused by field, every change
audited and sent to the machines), and the customer's co-approval where the MSP allows it."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.server.models import Asset, AuditEntry, PatchPolicy, PatchScanRequest
from lanet.server.services.patches import decisions
from tests.server.helpers import bearer, patch_item, register
from tests.server.portal_world import PASSWORD, Portal

SCAN = "/api/agents/patches/scan"


def _scanned(client: FlaskClient, agent: dict[str, Any], items: list[dict[str, Any]]) -> None:
    body = {
        "asset_id": agent["asset_id"],
        "scan_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(UTC).isoformat(),
        "source": "apt",
        "items": items,
    }
    assert client.post(SCAN, json=body, headers=bearer(agent["agent_token"])).status_code == 200


@pytest.fixture
def fleet(client: FlaskClient, new_token: Callable[..., str], db: Any) -> dict[str, dict[str, Any]]:
    """Two machines of Cafe and one of Pan, all missing openssl; Cafe's also miss vim; the MSP's
    technician, Cafe's administrator and requester, and Pan's administrator."""
    from lanet.server.services.users import create_user

    machines = {
        "cafe1": register(client, new_token(client_name="Cafe", site_name="CDMX"), machine_id="m-cafe-1"),
        "cafe2": register(client, new_token(client_name="Cafe", site_name="CDMX"), machine_id="m-cafe-2"),
        "pan": register(client, new_token(client_name="Pan", site_name="GDL"), machine_id="m-pan-1"),
    }
    for name, agent in machines.items():
        items = [patch_item("openssl", "3.0.15")]
        if name.startswith("cafe"):
            items.append(patch_item("vim", "9.0.2", "feature"))
        _scanned(client, agent, items)
    with db.session() as session:
        create_user(session, email="tec@lanet.mx", role="technician", password=PASSWORD, actor="test")
        for email, role, client_ref in (
            ("ana@cafe.mx", "client_admin", "Cafe"),
            ("beto@cafe.mx", "solicitante", "Cafe"),
            ("paco@pan.mx", "client_admin", "Pan"),
        ):
            create_user(
                session, email=email, role=role, password=PASSWORD, actor="test", client_ref=client_ref
            )
    return machines


def _as(app: Flask, email: str) -> Portal:
    portal = Portal(app.test_client())
    assert portal.login(email).status_code == 302
    return portal


def _client_id(db: Any, agent: dict[str, Any]) -> str:
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        return str(asset.client_id)


def _audited(db: Any, action: str) -> list[tuple[str, dict[str, Any]]]:
    with db.session() as session:
        return [
            (a.actor, a.details)
            for a in session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        ]


def test_the_queue_groups_each_update_across_a_clients_machines_and_one_click_decides_them_all(
    app: Flask, fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    tech = _as(app, "tec@lanet.mx")
    page = tech.get("/portal/patches/queue").get_data(as_text=True)
    assert "Cola de aprobación" in page and "Espera una decisión" in page
    assert page.count("<small>openssl=3.0.15</small>") == 2  # once for Cafe (two machines), once for Pan
    cafe = _client_id(db, fleet["cafe1"])
    only_cafe = tech.get(f"/portal/patches/queue?client={cafe}").get_data(as_text=True)
    assert only_cafe.count("<small>openssl=3.0.15</small>") == 1 and "vim=9.0.2" in only_cafe
    done = tech.post(
        "/portal/patches/queue/decide",
        {"client_id": cafe, "update_id": "openssl=3.0.15", "decision": "approve"},
    )
    assert done.status_code == 302 and "notice=patch_approved" in done.headers["Location"]
    after = tech.get("/portal/patches/queue").get_data(as_text=True)
    assert after.count("<small>openssl=3.0.15</small>") == 1  # Pan's still waits
    with db.session() as session:
        for name in ("cafe1", "cafe2"):
            asset = session.get(Asset, fleet[name]["asset_id"])
            assert asset is not None
            plan = decisions.plan_for(session, asset, datetime.now(UTC))
            assert plan.install == ["openssl=3.0.15"]
    assert [d["update_id"] for _, d in _audited(db, "patches.approve")] == ["openssl=3.0.15"]

    # A customer sees their own client's queue only, and without co-approval cannot decide.
    paco = _as(app, "paco@pan.mx")
    own = paco.get("/portal/patches/queue").get_data(as_text=True)
    assert "openssl=3.0.15" in own and "vim=9.0.2" not in own and "Aprobar" not in own
    pan = _client_id(db, fleet["pan"])
    refused = paco.post(
        "/portal/patches/queue/decide",
        {"client_id": pan, "update_id": "openssl=3.0.15", "decision": "approve"},
    )
    assert refused.status_code == 404
    other = paco.post(
        "/portal/patches/queue/decide", {"client_id": cafe, "update_id": "vim=9.0.2", "decision": "approve"}
    )
    assert other.status_code == 404


def test_the_policy_form_shows_what_is_inherited_refuses_bad_values_and_audits_each_change(
    app: Flask, fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    tech = _as(app, "tec@lanet.mx")
    cafe = _client_id(db, fleet["cafe1"])
    url = f"/portal/patches/policy/client/{cafe}"
    blank = tech.get(url)
    assert blank.status_code == 200
    assert "Ventana de mantenimiento" in blank.get_data(as_text=True)
    assert "heredado" in blank.get_data(as_text=True)

    bad = tech.post(
        url, {"window_start": "25:00", "window_minutes": "0", "rings": "50:1, 40:2", "rules_mode": "here"}
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "Escriba la hora de inicio como HH:MM" in text and "Un número entero de 1 a 1440." in text
    assert "Los porcentajes de los anillos suman 100." in text
    with db.session() as session:
        assert session.scalars(select(PatchPolicy)).first() is None

    with db.session() as session:
        session.query(PatchScanRequest).delete()
    good = tech.client.post(
        url,
        data={
            "csrf_token": tech.csrf or "",
            "window_start": "22:30",
            "window_minutes": "180",
            "window_days": ["5", "6"],
            "reboot": "ask_user",
            "max_deferrals": "2",
            "rules_mode": "here",
            "rule_0_classes": ["security", "critical"],
            "rule_0_days": "3",
            "rule_1_classes": ["definition"],
            "rule_1_severity": "important",
            "rings": "10:0, 90:4",
            "customer_may_approve": "yes",
            "customer_defer_days": "5",
        },
    )
    assert good.status_code == 302 and "notice=patch_policy_saved" in good.headers["Location"]
    with db.session() as session:
        row = session.scalars(select(PatchPolicy)).one()
        assert row.settings == {
            "window_start": "22:30",
            "window_minutes": 180,
            "window_days": [5, 6],
            "reboot": "ask_user",
            "max_deferrals": 2,
            "auto_rules": [
                {"classifications": ["security", "critical"], "after_days": 3},
                {"classifications": ["definition"], "min_severity": "important", "after_days": 0},
            ],
            "rings": [{"percent": 10, "delay_days": 0}, {"percent": 90, "delay_days": 4}],
            "customer_may_approve": True,
            "customer_defer_days": 5,
        }
        # Cafe's machines learn it at their next heartbeat; Pan's are not asked.
        asked = set(session.scalars(select(PatchScanRequest.asset_id)))
    assert asked == {fleet["cafe1"]["asset_id"], fleet["cafe2"]["asset_id"]}
    (changed,) = _audited(db, "patches.policy_changed")
    assert changed[0] == "user:tec@lanet.mx" and changed[1]["changes"]["window_start"] == "22:30"
    shown = tech.get(url).get_data(as_text=True)
    assert 'value="22:30"' in shown and 'value="10:0, 90:4"' in shown

    # The machine's own page shows the client's values as inherited; setting one there wins.
    asset_url = f"/portal/patches/policy/asset/{fleet['cafe1']['asset_id']}"
    assert 'placeholder="22:30"' in tech.get(asset_url).get_data(as_text=True)
    assert tech.post(asset_url, {"window_start": "01:00"}).status_code == 302
    with db.session() as session:
        asset = session.get(Asset, fleet["cafe1"]["asset_id"])
        assert asset is not None
        effective = decisions.effective_policy(session, asset)
    assert effective.window.start == "01:00" and effective.window.days == (5, 6)
    # Emptying the form unsets the scope's settings: the client's apply again.
    assert tech.post(asset_url, {}).status_code == 302
    with db.session() as session:
        asset = session.get(Asset, fleet["cafe1"]["asset_id"])
        assert asset is not None
        assert decisions.effective_policy(session, asset).window.start == "22:30"

    assert _as(app, "ana@cafe.mx").get(url).status_code == 404
    assert tech.get("/portal/patches/policy/planet/x").status_code == 404
    assert tech.get(f"/portal/patches/policy/site/{uuid.uuid4()}").status_code == 404


def test_a_customer_administrator_co_approves_within_what_the_msp_allows(
    app: Flask, fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    tech = _as(app, "tec@lanet.mx")
    cafe = _client_id(db, fleet["cafe1"])
    asset_id = fleet["cafe1"]["asset_id"]
    ana = _as(app, "ana@cafe.mx")
    decide = f"/portal/assets/{asset_id}/patches/decide"
    # Not yet allowed: the same 404 as for a form that does not exist.
    assert ana.post(decide, {"update_id": "vim=9.0.2", "decision": "approve"}).status_code == 404

    allowed = tech.post(
        f"/portal/patches/policy/client/{cafe}",
        {
            "customer_may_approve": "yes",
            "customer_defer_days": "7",
            "rules_mode": "here",
            "rule_0_classes": "security",
        },
    )
    assert allowed.status_code == 302
    page = ana.get(f"/portal/assets/{asset_id}/patches").get_data(as_text=True)
    assert "Posponer" in page and "Rechazar" not in page
    queue = ana.get("/portal/patches/queue").get_data(as_text=True)
    assert "hasta 7 días" in queue and "vim=9.0.2" in queue

    # Approving a waiting update puts it in every Cafe machine's plan.
    approved = ana.post(decide, {"update_id": "vim=9.0.2", "decision": "approve"})
    assert "notice=patch_approved" in approved.headers["Location"]
    # Postponing the auto-approved openssl holds it until the date, then the rule applies again.
    too_far = ana.post(decide, {"update_id": "openssl=3.0.15", "decision": "postpone", "days": "30"})
    assert "notice=patch_refused_too_far" in too_far.headers["Location"]
    held = ana.post(decide, {"update_id": "openssl=3.0.15", "decision": "postpone", "days": "3"})
    assert "notice=patch_postponed" in held.headers["Location"]
    assert "pospuesta hasta" in ana.get(f"/portal/assets/{asset_id}/patches").get_data(as_text=True)
    with db.session() as session:
        asset = session.get(Asset, asset_id)
        assert asset is not None
        now = datetime.now(UTC)
        assert decisions.plan_for(session, asset, now).install == ["vim=9.0.2"]
        later = decisions.plan_for(session, asset, now + timedelta(days=3, minutes=1))
        assert later.install == ["openssl=3.0.15", "vim=9.0.2"]
    (postponed,) = _audited(db, "patches.postpone")
    assert postponed[0] == "user:ana@cafe.mx" and postponed[1]["update_id"] == "openssl=3.0.15"
    assert ("user:ana@cafe.mx", {"update_id": "vim=9.0.2", "reason": None}) in _audited(db, "patches.approve")

    # The MSP's deny is final for the customer; a technician's approval lifts a postponement.
    tech.post(decide, {"update_id": "vim=9.0.2", "decision": "deny"})
    refused = ana.post(decide, {"update_id": "vim=9.0.2", "decision": "approve"})
    assert "notice=patch_refused_denied_by_msp" in refused.headers["Location"]
    tech.post(decide, {"update_id": "openssl=3.0.15", "decision": "approve"})
    with db.session() as session:
        asset = session.get(Asset, asset_id)
        assert asset is not None
        assert decisions.plan_for(session, asset, datetime.now(UTC)).install == ["openssl=3.0.15"]
    # A customer cannot deny, and a requester never decides.
    assert (
        "notice=patch_invalid"
        in ana.post(decide, {"update_id": "vim=9.0.2", "decision": "deny"}).headers["Location"]
    )
    beto = _as(app, "beto@cafe.mx")
    assert beto.post(decide, {"update_id": "vim=9.0.2", "decision": "approve"}).status_code == 404


def test_the_policys_scripts_travel_in_the_plan_and_come_back_in_the_report_audited(
    app: Flask, client: FlaskClient, fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    tech = _as(app, "tec@lanet.mx")
    agent = fleet["cafe1"]
    url = f"/portal/patches/policy/asset/{agent['asset_id']}"
    bad = tech.post(url, {"pre_script": "net stop erp", "pre_script_type": "cmd", "pre_script_timeout": "0"})
    assert bad.status_code == 400
    assert "Elija el tipo de script de la lista." in bad.get_data(as_text=True)
    assert "Un número entero de 1 a 3600." in bad.get_data(as_text=True)
    saved = tech.post(
        url,
        {
            "pre_script": "systemctl stop erp\r\n",
            "pre_script_type": "bash",
            "pre_script_timeout": "120",
            "post_script": "systemctl start erp",
            "post_script_type": "bash",
        },
    )
    assert saved.status_code == 302
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        plan = decisions.plan_for(session, asset, datetime.now(UTC))
    assert plan.pre_script is not None and plan.pre_script.model_dump() == {
        "type": "bash",
        "script": "systemctl stop erp\n",
        "timeout": 120,
    }
    assert plan.post_script is not None and plan.post_script.timeout == 600
    # The scan's answer carries the plan to the agent, as JSON the agent validates.
    body = {
        "asset_id": agent["asset_id"],
        "scan_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(UTC).isoformat(),
        "source": "apt",
        "items": [patch_item("openssl", "3.0.15")],
    }
    answer = client.post(SCAN, json=body, headers=bearer(agent["agent_token"])).get_json()["data"]
    assert answer["plan"]["pre_script"]["script"] == "systemctl stop erp\n"

    report = {
        "asset_id": agent["asset_id"],
        "report_id": str(uuid.uuid4()),
        "at": datetime.now(UTC).isoformat(),
        "plan_revision": plan.revision,
        "results": [{"update_id": "openssl=3.0.15", "state": "installed", "installed_version": "3.0.15"}],
        "scripts": [
            {"phase": "pre", "status": "succeeded", "exit_code": 0, "stdout": "stopped\n"},
            {"phase": "post", "status": "failed", "exit_code": 5, "stderr": "erp.service not found\n"},
        ],
    }
    sent = client.post("/api/agents/patches/report", json=report, headers=bearer(agent["agent_token"]))
    assert sent.status_code == 200, sent.get_json()
    page = tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert 'Antes: <span class="badge script-succeeded">Correcto</span>' in page
    assert "(código 5)" in page and "erp.service not found" in page
    outcomes = sorted((d["phase"], d["status"]) for _, d in _audited(db, "patches.script"))
    assert outcomes == [("post", "failed"), ("pre", "succeeded")]
    # A report with a bad script run is refused by field, and stores nothing.
    report["report_id"] = str(uuid.uuid4())
    report["scripts"] = [{"phase": "during", "status": "succeeded"}]
    refused = client.post("/api/agents/patches/report", json=report, headers=bearer(agent["agent_token"]))
    assert refused.status_code == 422 and "scripts" in str(refused.get_json())


def test_turning_windows_automatic_updates_off_is_explicit_audited_and_shown(
    app: Flask, client: FlaskClient, fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    tech = _as(app, "tec@lanet.mx")
    agent = fleet["cafe1"]
    cafe = _client_id(db, agent)
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        untouched = decisions.plan_for(session, asset, datetime.now(UTC))
    assert untouched.windows_auto_update == "leave"  # by default the agent changes nothing
    assert (
        tech.post(f"/portal/patches/policy/client/{cafe}", {"windows_auto_update": "sometimes"}).status_code
        == 400
    )
    assert (
        tech.post(f"/portal/patches/policy/client/{cafe}", {"windows_auto_update": "disable"}).status_code
        == 302
    )
    with db.session() as session:
        asset = session.get(Asset, agent["asset_id"])
        assert asset is not None
        plan = decisions.plan_for(session, asset, datetime.now(UTC))
    assert plan.windows_auto_update == "disable" and plan.revision != untouched.revision
    assert [d["changes"]["windows_auto_update"] for _, d in _audited(db, "patches.policy_changed")] == [
        "disable"
    ]

    def scan(state: dict[str, Any]) -> None:
        body = {
            "asset_id": agent["asset_id"],
            "scan_id": str(uuid.uuid4()),
            "scanned_at": datetime.now(UTC).isoformat(),
            "source": "windows_update",
            "items": [],
            "auto_update": state,
        }
        done = client.post(SCAN, json=body, headers=bearer(agent["agent_token"]))
        assert done.status_code == 200, done.get_json()

    scan({"mode": "disable", "no_auto_update": 1, "au_options": 4, "changed": True})
    scan({"mode": "disable", "no_auto_update": 1, "au_options": 4, "changed": False})  # as it was
    (changed,) = _audited(db, "patches.auto_update")
    assert changed == (
        f"agent:{agent['asset_id']}",
        {"mode": "disable", "no_auto_update": 1, "au_options": 4, "changed": True, "restored": False},
    )
    page = tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(as_text=True)
    assert "Actualizaciones automáticas de Windows: desactivadas · NoAutoUpdate=1 · AUOptions=4" in page
    # A registry that refused is audited as a failure and shown.
    scan({"mode": "disable", "error": "the Windows Update settings could not be changed: access denied"})
    assert [a[1].get("error") is not None for a in _audited(db, "patches.auto_update")] == [False, True]
    assert "No se pudo aplicar" in tech.get(f"/portal/assets/{agent['asset_id']}/patches").get_data(
        as_text=True
    )


def test_co_approval_is_the_clients_setting_and_a_site_or_machine_cannot_take_it(
    fleet: dict[str, dict[str, Any]], db: Any
) -> None:
    from lanet.server.services.config_push import resolve_scope
    from lanet.server.services.patches.policy import PolicyError

    with db.session() as session:
        scope = resolve_scope(session, "asset", fleet["cafe1"]["asset_id"])
        with pytest.raises(PolicyError, match="customer_may_approve: a client's setting"):
            decisions.set_policy(
                session, scope, {"customer_may_approve": True}, actor="test", now=datetime.now(UTC)
            )
        assert decisions.policy_settings(session, scope) == {}
