"""A disk that fills at a steady rate, end to end: a week of its history in the server's database
(as its heartbeats would have left it), today's heartbeat over HTTP, ``lanet-server maintenance``
as a real process, and the portal in Chromium showing the disk's ETA and projection line, the alert
it raised and the ticket it opened. Screenshots land in artifacts/portal/."""

import copy
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import create_engine, insert

from lanet.server.models import MetricSample
from lanet.server.models.base import table_of
from tests.conftest import ARTIFACTS, LiveServer, load_fixture, start_server

pytestmark = pytest.mark.e2e
PASSWORD = "pronostico-de-prueba-2026"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ARTIFACTS / "portal"
TOTAL = 500 * 10**9


def _used(hours_ago: float) -> float:
    """40 % for days, then a point an hour for the last 45 hours: 85 % now, full in 15 hours."""
    return 40.0 + max(0.0, 45.0 - hours_ago)


def _disk(used: float) -> dict[str, Any]:
    return {"mount": "C:", "total": TOTAL, "used": int(TOTAL * used / 100), "percent": round(used, 2)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    yield live
    live.stop()


def _week_of_history(database_url: str, asset_id: str, now: datetime) -> None:
    """Every 5 minutes for 7 days, every minute for the last hour, up to a minute ago."""
    moments = [now - timedelta(minutes=m) for m in range(7 * 24 * 60, 60, -5)]
    moments += [now - timedelta(minutes=m) for m in range(60, 0, -1)]
    rows = []
    for at in moments:
        used = _used((now - at).total_seconds() / 3600)
        rows.append(
            {
                "asset_id": asset_id,
                "sampled_at": at,
                "cpu_usage": 12.0,
                "memory_usage": 48.0,
                "disk_usage": used,
                "extra": {"disks": [_disk(used)]},
            }
        )
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(insert(table_of(MetricSample)), rows)
    engine.dispose()


def test_a_filling_disk_shows_its_eta_raises_an_alert_and_opens_a_ticket(server: LiveServer) -> None:
    token = server.cli("tokens", "create", "--client", "Despacho Ruiz", "--site", "GDL").stdout.split()[-1]
    body = copy.deepcopy(load_fixture("seed_register_request.json"))
    body["token"] = token
    body["hardware_info"]["computer_name"] = "CONTA-PC-03"
    registered = requests.post(f"{server.url}/api/agents/register-with-token", json=body, timeout=10)
    assert registered.status_code == 201, registered.text
    agent = registered.json()["data"]
    done = server.cli(
        "config", "set", "--scope", "client", "--id", "Despacho Ruiz", "auto_ticket_creation", "true"
    )
    assert done.returncode == 0, done.stderr
    server.create_user("tec@lanet.mx", "technician", PASSWORD)

    now = datetime.now(UTC)
    _week_of_history(server.env["LANET_DATABASE_URL"], agent["asset_id"], now)
    beat = copy.deepcopy(load_fixture("seed_heartbeat_request.json"))
    beat.update(asset_id=agent["asset_id"], alerts=[], logs=[])
    beat["status"].update(disk_usage=85.0, disks=[_disk(85.0)])
    sent = requests.post(
        f"{server.url}/api/agents/heartbeat",
        json=beat,
        headers={"Authorization": f"Bearer {agent['agent_token']}"},
        timeout=10,
    )
    assert sent.status_code == 200, sent.text

    upkeep = server.cli("maintenance")
    assert upkeep.returncode == 0, upkeep.stderr
    assert "predictions: 1 alert(s) opened, 0 resolved, 1 ticket(s)" in upkeep.stderr

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page: Page = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="es-MX").new_page()
        page.goto(f"{server.url}/portal/login")
        page.fill("input[name=email]", "tec@lanet.mx")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server.url}/portal/assets/{agent['asset_id']}")
        row = page.locator("#forecasts tr[data-mount='C:']")
        expect(row.locator(".eta")).to_have_text("unas 15 horas")
        expect(row).to_have_attribute("data-level", "warning")
        expect(row.locator(".badge")).to_have_text("Advertencia")
        page.click("button[data-range=week]")
        chart = page.locator("#chart-usage")
        expect(chart.locator("line.projection")).to_have_count(1)
        expect(chart.locator("text.projection-label")).to_have_text("C: · Lleno en unas 15 horas")
        expect(page.locator("#alerts")).to_contain_text("El disco C: se llenará en unas 15 horas")
        page.locator("#metrics").screenshot(path=SHOTS / "disk-forecast.png")

        page.goto(f"{server.url}/portal/tickets")
        ticket = page.locator("table.tickets tr", has_text="se llenará")
        expect(ticket).to_contain_text("TKT-000001")
        expect(ticket).to_contain_text("CONTA-PC-03")
        page.screenshot(path=SHOTS / "disk-forecast-ticket.png", full_page=True)
        browser.close()
