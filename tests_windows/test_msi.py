"""The MSI, as an administrator uses it: ``msiexec`` with SERVER and TOKEN, under Wine's installer.

One story, in order, because every step starts from the machine the previous one left: a refused
install changes nothing; a real install registers with the lane's server, runs the service from
``bin\\agent-service.exe`` and heartbeats; an upgrade keeps the identity; an uninstall keeps the
data; ``REMOVEDATA=1`` removes it.

The lane builds the MSI of this checkout and a second one with a higher version number
(``LANET_LANE_MSI``; ``LANET_LANE_MSI_NEXT`` of version ``LANET_LANE_MSI_NEXT_VERSION``) and passes
its server and an install token.
"""

import json
import os
from pathlib import Path

import pytest
from installed import BIN, CONFIG, ROOT, log_text, msiexec, products, run, run_value, status
from tests.e2e.agents import wait_for

from lanet.agent.windows import acl as winacl
from lanet.agent.windows import marker
from lanet.agent.windows import service as winservice

#: Everyone, BUILTIN\Users, Authenticated Users, INTERACTIVE.
OTHERS = {"S-1-1-0", "S-1-5-32-545", "S-1-5-11", "S-1-5-4"}
#: Pictures of the installed tray's windows (the repository's artifacts/ folder, via Z:).
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "windows"


def _report_a_problem_from_the_installed_tray() -> None:
    """The PC's user reports a problem from the installed tray (its own Python, Tcl/Tk and pystray's
    win32 backend, on the lane's X server) through the service's named pipe; the ticket arrives."""
    driver_script = str(Path(__file__).with_name("tray_driver.py"))
    problem = "La impresora de recepción no imprime desde la mañana"
    driver = run(str(BIN / "python.exe"), driver_script, str(SHOTS), problem, timeout=300)
    assert driver.returncode == 0, driver.stderr[-3000:]
    seen = json.loads(driver.stdout.splitlines()[-1])
    assert seen["menu"][0] == "Estado: Online - Wine Lane Prefix" and seen["menu"][2] == "Reportar Problema"
    assert seen["icon_menu"][2] == "Reportar Problema"
    assert seen["queued"]["queued"] is True
    (ticket,) = [t for t in seen["tickets"] if t["description"] == problem]
    assert (ticket["category"], ticket["channel"], ticket["has_screenshot"]) == ("impresora", "agente", True)
    assert all(size > 1000 for size in seen["shots"].values())


@pytest.fixture
def msi() -> tuple[str, str]:
    return os.environ["LANET_LANE_MSI"], os.environ["LANET_LANE_MSI_NEXT"]


def test_install_upgrade_uninstall(msi: tuple[str, str], tmp_path: Path) -> None:
    first, upgrade = msi
    server, token = os.environ["LANET_LANE_SERVER"], os.environ["LANET_LANE_TOKEN"]
    INSECURE = (f"SERVER={server}", "ALLOW_INSECURE_HTTP=1")  # noqa: N806 - read as a constant
    assert winservice.status() is None and not products()

    # Without a server and token the install refuses before touching the machine.
    log = tmp_path / "no-token.log"
    # (Windows writes the condition's message to the log; Wine's installer only fails.)
    assert msiexec("/i", first, log=log) == 1603
    assert "LaunchConditions" in log_text(log) and not products()
    # A plain http backend is refused unless the development switch says otherwise (the lane's
    # server is plain http on loopback): the install rolls back.
    log = tmp_path / "plain-http.log"
    # (Windows answers 1603, fatal error; Wine's installer 1627, function failed.)
    assert msiexec("/i", first, f"SERVER={server}", f"TOKEN={token}", log=log) in (1603, 1627)
    assert not (BIN / "agent.exe").exists() and winservice.status() is None and not products()
    assert "plain http" in (ROOT / "logs" / "agent.log").read_text(encoding="utf-8")
    # A refused token fails the install, which rolls back: no program, no service, no product.
    log = tmp_path / "bad-token.log"
    assert msiexec("/i", first, *INSECURE, "TOKEN=LANET-AAAA-BBBB-CCCCCC", log=log) in (1603, 1627)
    assert not (BIN / "agent.exe").exists() and winservice.status() is None and not products()
    assert "registration refused" in (ROOT / "logs" / "agent.log").read_text(encoding="utf-8")

    # The real install registers, installs the service and starts it.
    log = tmp_path / "install.log"
    assert msiexec("/i", first, *INSECURE, f"TOKEN={token}", log=log) == 0, log_text(log)[-3000:]
    assert len(products()) == 1
    assert winservice.status() == "running"
    assert run_value() == f'"{BIN / "agent-tray.exe"}"'
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    asset_id = config["agent"]["asset_id"]
    assert asset_id and config["backend"]["url"] == server
    assert (ROOT / "config" / "token.txt").read_text(encoding="utf-8").strip() == token
    # Windows shows exactly SYSTEM and Administrators; Wine maps access lists onto Unix permission
    # bits and reports SYSTEM and its own user: what must hold on both is that nobody else is in.
    for private in (ROOT / "config", ROOT / "data", ROOT / "logs", ROOT / "scripts", CONFIG):
        granted = winacl.grantees(private)
        assert "S-1-5-18" in granted and not granted & OTHERS, (private, granted)
    report = wait_for(lambda: (s := status()).get("last_heartbeat") and s, 120, "a first heartbeat")
    assert report["registered"] is True
    _report_a_problem_from_the_installed_tray()
    host = run(str(BIN / "agent-service.exe"))
    assert host.returncode == 2 and "LANETAgent service" in host.stderr

    # An upgrade replaces the program and keeps the identity; one product remains.
    log = tmp_path / "upgrade.log"
    assert msiexec("/i", upgrade, log=log) == 0, log_text(log)[-3000:]
    assert list(products().values()) == [os.environ["LANET_LANE_MSI_NEXT_VERSION"]]
    assert json.loads(CONFIG.read_text(encoding="utf-8"))["agent"]["asset_id"] == asset_id
    assert winservice.status() == "running"

    # Uninstall removes the program, the service and the autostart; the identity and data stay.
    log = tmp_path / "uninstall.log"
    assert msiexec("/x", upgrade, log=log) == 0, log_text(log)[-3000:]
    assert winservice.status() is None and not products() and run_value() is None
    assert not (BIN / "agent.exe").exists()
    assert CONFIG.exists() and (ROOT / "data").exists()

    _reinstall_then_purge(first, asset_id, token, tmp_path)


def _reinstall_then_purge(first: str, asset_id: str, token: str, tmp_path: Path) -> None:
    """After an uninstall that kept the data: installed again without, then with a token; then
    removed with the data."""
    INSECURE = (f"SERVER={os.environ['LANET_LANE_SERVER']}", "ALLOW_INSECURE_HTTP=1")  # noqa: N806
    # Installed again: the PC is still registered (its mark in the registry), so neither a server
    # nor a token is asked for, and the service runs with the identity it had.
    log = tmp_path / "reinstall-registered.log"
    assert msiexec("/i", first, log=log) == 0, log_text(log)[-3000:]
    assert winservice.status() == "running"
    assert json.loads(CONFIG.read_text(encoding="utf-8"))["agent"]["asset_id"] == asset_id
    assert msiexec("/x", first, log=tmp_path / "uninstall-again.log") == 0
    # With a token again (the server recognises the machine), then removed with its data.
    log = tmp_path / "reinstall.log"
    assert msiexec("/i", first, *INSECURE, f"TOKEN={token}", log=log) == 0, log_text(log)[-3000:]
    assert json.loads(CONFIG.read_text(encoding="utf-8"))["agent"]["asset_id"] == asset_id
    log = tmp_path / "purge.log"
    assert msiexec("/x", first, "REMOVEDATA=1", log=log) == 0, log_text(log)[-3000:]
    assert winservice.status() is None and not CONFIG.exists() and not (ROOT / "data").exists()
    assert marker.registered_asset() is None
