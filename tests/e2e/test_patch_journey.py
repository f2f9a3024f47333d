"""A technician's whole patch story, for real: a Linux agent (its service, as packaged) in a
throwaway Debian root with a local apt repository, registered over HTTPS with a private CA; the
technician in Chromium sets the client's maintenance window, sees the machine's pending packages,
approves one, and the agent installs it in its window; the result shows in the portal, the package
left unapproved stays as it was. Screenshots land in artifacts/portal/. Needs root (chroot)."""

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ARTIFACTS, LiveServer, private_ca, start_server
from tests.e2e.agents import wait_for
from tests.patch_root import AGENT_HOME, PatchRoot, patch_root

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]
PASSWORD = "portal-de-prueba-2026"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ARTIFACTS / "portal"


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path, Path]:
    return private_ca(tmp_path / "tls")


@pytest.fixture
def server(tmp_path: Path, tls: tuple[Path, Path, Path]) -> Iterator[LiveServer]:
    ca_path, cert_path, key_path = tls
    live = start_server(
        tmp_path / "server",
        f"sqlite:///{tmp_path / 'server' / 'lanet.db'}",
        certfile=str(cert_path),
        keyfile=str(key_path),
        verify=str(ca_path),
    )
    yield live
    live.stop()


@pytest.fixture
def root(tmp_path: Path) -> Iterator[PatchRoot]:
    assert os.geteuid() == 0, "the throwaway root needs root (chroot and mounts); CI runs as root"
    with patch_root(tmp_path) as made:
        made.publish(
            {"lanet-dummy": ["1.0", "1.1"], "lanet-other": ["1.0", "2.0"]},
            installed={"lanet-dummy": "1.0", "lanet-other": "1.0"},
        )
        yield made


def _updates(server: LiveServer, asset_id: str) -> dict[str, dict[str, object]]:
    done = server.cli("patches", "list", "--asset", asset_id, "--json", "--all")
    assert done.returncode == 0, done.stderr
    return {u["update_id"]: u for u in json.loads(done.stdout)["updates"]}


def test_a_technician_approves_one_package_and_the_agent_installs_it_in_its_window(
    server: LiveServer, root: PatchRoot, tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root.install_agent({})
    home = root.path / AGENT_HOME.lstrip("/")
    (home / "config" / "agent_config.json").unlink()  # registration writes the real one
    (home / "config" / "ca.pem").write_bytes(tls[0].read_bytes())  # the MSP's private CA
    token = server.cli("tokens", "create", "--client", "Cafe Mexico", "--site", "CDMX").stdout.split()[-1]
    registered = root.agent_cli("register", "--server", server.url + "/api", "--token", token)
    assert registered.returncode == 0, registered.stdout + registered.stderr
    asset_id = registered.stdout.split()[2]
    config_path = home / "config" / "agent_config.json"
    config = json.loads(config_path.read_text())
    config["heartbeat"]["interval"] = 5
    config["backend"].update(retry_delay=1, timeout=10)
    config["patches"] = {"allow_restart": False}  # never restart the machine running the tests
    config_path.write_text(json.dumps(config))
    server.create_user("tec@lanet.mx", "technician", PASSWORD)
    agent = root.start_agent(tmp_path / "agent.out")
    try:
        listed = wait_for(lambda: len(_updates(server, asset_id)) == 2, 180, "the agent's first scan")
        assert listed
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="es-MX", ignore_https_errors=True
            )
            page = context.new_page()
            _journey(page, server, root, asset_id)
            browser.close()
    finally:
        agent.terminate()
        agent.wait(30)
    assert root.version("lanet-dummy") == "1.1" and root.version("lanet-other") == "1.0"


def _journey(page: Page, server: LiveServer, root: PatchRoot, asset_id: str) -> None:
    page.goto(f"{server.url}/portal/login")
    page.fill("input[name=email]", "tec@lanet.mx")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header nav")).to_be_visible()

    # The client's window opens a few minutes ago (the root's clock is this machine's).
    page.goto(f"{server.url}/portal/patches")
    page.click("table.compliance a:has-text('Cafe Mexico')")
    expect(page.locator("h1")).to_contain_text("Política de actualizaciones")
    page.fill("input[name=window_start]", (datetime.now() - timedelta(minutes=5)).strftime("%H:%M"))
    page.fill("input[name=window_minutes]", "120")
    page.select_option("select[name=reboot]", "never")
    page.screenshot(path=SHOTS / "patch-policy.png", full_page=True)
    page.click("text=Guardar política")
    expect(page.locator(".notice")).to_contain_text("Política guardada")

    # The approval queue lists both packages; the technician approves one for the client.
    page.goto(f"{server.url}/portal/patches/queue")
    row = page.locator("tr", has_text="lanet-dummy=1.1")
    expect(row).to_be_visible()
    expect(page.locator("tr", has_text="lanet-other=2.0")).to_be_visible()
    page.screenshot(path=SHOTS / "patch-queue.png", full_page=True)
    row.locator("button[value=approve]").click()
    expect(page.locator(".notice")).to_contain_text("Actualización aprobada")

    # The agent learns the plan at its next heartbeat and installs inside the window.
    wait_for(
        lambda: _updates(server, asset_id)["lanet-dummy=1.1"]["state"] == "installed",
        300,
        "the approved package installed and reported",
    )
    # The install run is on the machine's page; the scan after it no longer lists the package, and
    # the one left unapproved still waits.
    page.goto(f"{server.url}/portal/assets/{asset_id}/patches")
    expect(page.locator("table.patches tr", has_text="lanet-other")).to_contain_text("Disponible")
    runs = page.locator("section", has_text="Instalaciones")
    expect(runs).to_contain_text(re.compile(r"Instalada\s+lanet-dummy=1\.1"))
    page.screenshot(path=SHOTS / "patch-installed.png", full_page=True)
    assert _updates(server, asset_id)["lanet-other=2.0"]["state"] == "available"
