"""The portal in a real browser (Debian's Chromium through Playwright) against a real server and a
real agent: a customer sees only their client's machines and watches the chart draw the agent's
heartbeats; a technician creates a token and runs a script. Screenshots land in artifacts/portal/."""

import copy
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from lanet.agent.local import call, channel_address
from lanet.agent.paths import AgentPaths
from tests.conftest import ARTIFACTS, LiveServer, load_fixture, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "portal-de-prueba-2026"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ARTIFACTS / "portal"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    yield live
    live.stop()


@pytest.fixture
def fleet(server: LiveServer, tmp_path: Path) -> Iterator[tuple[LiveServer, AgentProcess, str]]:
    """This machine's agent in "Cafe Mexico", heartbeating every 5 s; another client's asset beside it."""
    token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
    agent = AgentProcess(tmp_path / "agent")
    registered = agent.register(server.url + "/api", token)
    assert registered.returncode == 0, registered.stderr
    asset_id = registered.stdout.split()[2]
    agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
    server.cli(
        "config", "set", "--scope", "client", "--id", "Cafe Mexico", "allowed_scripts", '["sh", "bash"]'
    )
    other = server.cli("tokens", "create", "--client", "Ferreteria Norte", "--site", "MTY").stdout.split()[-1]
    body = copy.deepcopy(load_fixture("seed_register_request.json"))
    body["token"] = other
    body["hardware_info"]["computer_name"] = "FERRE-PC-07"
    assert (
        requests.post(f"{server.url}/api/agents/register-with-token", json=body, timeout=10).status_code
        == 201
    )
    server.create_user("ana@cafe.mx", "client_admin", PASSWORD, "Cafe Mexico")
    server.create_user("tec@lanet.mx", "technician", PASSWORD)
    agent.start()
    yield server, agent, asset_id
    agent.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-MX")
        yield context.new_page()
        browser.close()


def _login(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/portal/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header nav")).to_be_visible()


def test_a_customer_watches_their_machine_and_a_technician_runs_a_script(
    fleet: tuple[LiveServer, AgentProcess, str], page: Page
) -> None:
    server, agent, asset_id = fleet
    page.goto(f"{server.url}/portal/login")
    page.screenshot(path=SHOTS / "login.png")
    _login(page, server, "ana@cafe.mx")
    row = page.locator(f"tr[data-asset='{asset_id}']")
    expect(row).to_be_visible()
    assert "FERRE-PC-07" not in page.content() and "Ferreteria" not in page.content()
    page.screenshot(path=SHOTS / "assets.png", full_page=True)

    row.locator("a").click()
    chart = page.locator("#chart-usage")
    # The chart refreshes itself; with a heartbeat every 5 s it gains points without a reload.
    expect(chart).to_have_attribute("data-points", re.compile(r"^([2-9]|\d{2,})"), timeout=60_000)
    assert chart.locator("polyline").count() >= 1
    assert page.locator("#software tbody tr").count() >= 1
    assert page.locator("#scripts").count() == 0  # scripts are for technicians
    page.screenshot(path=SHOTS / "asset.png", full_page=True)
    page.click("button[data-range=day]")
    expect(page.locator("button[data-range=day]")).to_have_attribute("aria-pressed", "true")

    # A ticket reported from this PC's tray (through the service's local channel) shows up here.
    created = call(
        channel_address(AgentPaths.for_home(agent.home)),
        "create_ticket",
        {"description": "La impresora no imprime", "category": "impresora", "priority": "alta"},
    )
    assert created["client_ticket_id"]
    # Delivery goes through the agent's outbox; the portal page is loaded once it has reached the server.
    wait_for(
        lambda: any(
            t.get("number") == "TKT-000001"
            for t in call(channel_address(AgentPaths.for_home(agent.home)), "my_tickets", {})["items"]
        ),
        60,
        "the tray's ticket to reach the server",
    )
    page.goto(f"{server.url}/portal/tickets")
    expect(page.locator("table.tickets a", has_text="TKT-000001")).to_be_visible()
    page.screenshot(path=SHOTS / "tickets.png", full_page=True)
    page.click("table.tickets a >> text=TKT-000001")
    page.fill("#comments textarea[name=body]", "Ya reinicié la impresora y sigue igual")
    page.click("#comments button[type=submit]")
    expect(page.locator("#comments article")).to_contain_text("Ya reinicié la impresora")
    page.screenshot(path=SHOTS / "ticket.png", full_page=True)
    page.click("header form button[type=submit]")  # log out
    expect(page.locator("input[name=email]")).to_be_visible()

    _login(page, server, "tec@lanet.mx")
    expect(page.get_by_text("FERRE-PC-07")).to_be_visible()
    page.goto(f"{server.url}/portal/tokens")
    page.fill("input[name=client]", "Cafe Mexico")
    page.fill("input[name=site]", "Guadalajara")
    page.fill("input[name=max_uses]", "5")
    page.fill("input[name=expires_days]", "30")
    page.click("form.grid button[type=submit]")
    expect(page.locator("#created-token code.token")).to_have_text(
        re.compile(r"^LANET-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{6}$")
    )
    page.screenshot(path=SHOTS / "tokens.png", full_page=True)

    page.goto(f"{server.url}/portal/assets/{asset_id}")
    page.select_option("#scripts select[name=type]", "sh")
    page.fill("#scripts textarea[name=script]", "echo hola-desde-el-portal; hostname")
    page.fill("#scripts input[name=timeout]", "30")
    page.click("#scripts button[type=submit]")
    expect(page.locator("#command-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#command-stdout")).to_contain_text("hola-desde-el-portal")
    expect(page.locator("#command-exit")).to_have_text("0")
    page.screenshot(path=SHOTS / "command.png", full_page=True)
    page.goto(f"{server.url}/portal/config")
    page.screenshot(path=SHOTS / "config.png", full_page=True)
