"""The tray's windows on a real X server, driven from the test against a real agent service and
server: Reportar Problema creates a real ticket, Mis Tickets shows it, status changes notify.
Screenshots of every window go to artifacts/tray/."""

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.local import channel_address
from lanet.agent.paths import AgentPaths
from tests.conftest import ARTIFACTS, LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "tray"


@pytest.fixture
def service(tmp_path: Path, display: str) -> Iterator[tuple[LiveServer, Path]]:
    server = start_server(tmp_path / "server", f"sqlite:///{tmp_path / 'server' / 'lanet.db'}")
    agent = AgentProcess(tmp_path / "agent")
    try:
        token = server.cli(
            "tokens", "create", "--client", "Cafe Mexico S.A. de C.V.", "--site", "Oficina Principal CDMX"
        ).stdout.split()[-1]
        assert agent.register(server.url, token).returncode == 0
        agent.tune(heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5})
        agent.start()
        sock = Path(channel_address(AgentPaths.for_home(agent.home)))
        wait_for(sock.exists, 30, "the agent service")
        yield server, sock
    finally:  # also when the setup fails half-way: no server or agent outlives the test
        if agent.alive():
            agent.stop()
        server.stop()


def _app(sock: Path, language: str = "es") -> Any:
    from lanet.agent.tray.app import TrayApp
    from lanet.agent.tray.context import TrayContext

    app = TrayApp(TrayContext(str(sock), language))
    wait_for(lambda: app.fetch()[0]["state"] in ("online", "warning"), 30, "the agent's first contact")
    app.refresh()
    return app


def _shot(window: Any, name: str) -> Path:
    from PIL import ImageGrab

    window.update()
    window.update_idletasks()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    box = (x, y, x + window.winfo_width(), y + window.winfo_height())
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    ImageGrab.grab(bbox=box, xdisplay=os.environ["DISPLAY"]).save(path)
    assert path.stat().st_size > 1000
    return path


def test_menu_follows_the_seed(service: tuple[LiveServer, Path]) -> None:
    _server, sock = service
    app = _app(sock)
    labels = [label for label, _ in app.menu_entries()]
    assert labels == [
        "Estado: Online - Cafe Mexico S.A. de C.V. Oficina Principal CDMX",
        "Ver Estado del Equipo",
        "Reportar Problema",
        "Mis Tickets (0 abiertos)",
        "Configuración",
        "Salir",
    ] or labels[0].startswith("Estado: Advertencia")
    icon = app._make_icon()  # the pystray icon with its menu, as the desktop shows it
    assert [item.text for item in icon.menu.items][2] == "Reportar Problema"
    assert [item.default for item in icon.menu.items][2] is True
    del icon  # pystray closes its X connection when the icon goes: let that happen while X still runs
    gc.collect()
    app.root.destroy()


def test_reportar_problema_creates_a_real_ticket(service: tuple[LiveServer, Path]) -> None:
    _server, sock = service
    app = _app(sock)
    window = app.show_report()
    preview = window.preview_lines()
    assert [line.split(":")[0] for line in preview] == [
        "• Equipo",
        "• Cliente",
        "• Sitio",
        "• CPU",
        "• IP",
        "• Última actualización",
    ]
    assert "Cafe Mexico S.A. de C.V." in preview[1] and "Oficina Principal CDMX" in preview[2]
    window.description.insert(
        "1.0", "Mi computadora está muy lenta desde esta mañana\ny se congela con Excel..."
    )
    labels = [label for _id, label in window.categories]
    window.category.current(labels.index("Hardware"))
    window.priority.current(2)
    _shot(window, "reportar_problema")
    window.submit_button.invoke()
    assert window.result and window.result["queued"] is True
    assert "Ticket creado" in window.message.get()
    listed = wait_for(lambda: (m := app.ctx.ask("my_tickets"))["items"] and m, 30, "the ticket on the server")
    ticket = listed["items"][0]
    assert (ticket["number"], ticket["category"], ticket["priority"], ticket["has_screenshot"]) == (
        "TKT-000001",
        "hardware",
        "alta",
        True,
    )
    detail = app.ctx.ask("ticket_detail", ref="TKT-000001")
    assert detail["auto_info"]["cliente"] == "Cafe Mexico S.A. de C.V."
    empty = app.show_report()
    empty.submit_button.invoke()
    assert "Describe el problema" in empty.message.get() and empty.result is None
    app.root.destroy()


def test_mis_tickets_status_settings_and_the_notification(service: tuple[LiveServer, Path]) -> None:
    server, sock = service
    app = _app(sock)
    app.ctx.ask(
        "create_ticket",
        description="La impresora no imprime",
        category="impresora",
        priority="media",
        reporter_name="Juan Pérez",
    )
    wait_for(lambda: app.ctx.ask("my_tickets")["items"], 30, "the ticket on the server")
    server.cli("tickets", "assign", "TKT-000001", "--to", "María González")
    app.refresh()
    assert app.menu_entries()[3][0] == "Mis Tickets (1 abiertos)"
    tickets = app.show_tickets()
    texts = _texts(tickets)
    assert "TKT-000001 - La impresora no imprime" in texts and "Técnico: María González" in texts
    assert "Canal: Agente" in texts and "Ver" in texts and "Comentar" in texts
    _shot(tickets, "mis_tickets")
    server.cli("tickets", "status", "TKT-000001", "resuelto")
    app.refresh()
    assert app.notifications == ["El ticket TKT-000001 cambió a: resuelto"]
    tickets.refresh()
    assert "Calificar" in _texts(tickets)
    _shot(app.show_status(), "estado_del_equipo")
    settings = app.show_settings()
    assert "Oficina Principal CDMX" in _texts(settings)
    _shot(settings, "configuracion")
    app.root.destroy()


def test_mis_tickets_while_the_backend_is_down(service: tuple[LiveServer, Path]) -> None:
    server, sock = service
    app = _app(sock)
    app.ctx.ask("create_ticket", description="La impresora no imprime", category="impresora")
    wait_for(lambda: app.ctx.ask("my_tickets")["items"], 30, "the ticket on the server")
    server.stop()
    app.ctx.ask("create_ticket", description="Tampoco hay internet", category="red")
    tickets = app.show_tickets()
    texts = _texts(tickets)
    assert any(t.startswith("Sin conexión con el servidor: se muestra la lista de hoy") for t in texts), texts
    assert "TKT-000001 - La impresora no imprime" in texts
    assert "pendiente de envío - Tampoco hay internet" in texts
    _shot(tickets, "mis_tickets_sin_conexion")
    app.root.destroy()


def test_english_when_asked(service: tuple[LiveServer, Path]) -> None:
    _server, sock = service
    app = _app(sock, "en")
    labels = [label for label, _ in app.menu_entries()]
    assert labels[1:] == [
        "View Computer Status",
        "Report a Problem",
        "My Tickets (0 open)",
        "Settings",
        "Exit",
    ]
    window = app.show_report()
    assert window.preview_lines()[0].startswith("• Computer: ")
    _shot(window, "report_a_problem_en")
    app.root.destroy()


def _texts(widget: Any) -> list[str]:
    found = []
    for child in widget.winfo_children():
        if "text" in child.keys():  # noqa: SIM118 - Tk widgets answer keys(), not "in"
            found.append(str(child.cget("text")))
        found += _texts(child)
    return found


def test_the_restart_question_and_its_answer_reach_the_server_audit(
    service: tuple[LiveServer, Path], tmp_path: Path
) -> None:
    import getpass
    import json
    import sqlite3
    import time

    from lanet.agent.patches import reboot
    from lanet.agent.secrets.protect import PlainProtector
    from lanet.agent.store import Store

    _server, sock = service
    plan = {
        "revision": "r1",
        "window_start": "02:00",
        "window_minutes": 120,
        "window_days": [0, 1, 2, 3, 4, 5, 6],
        "reboot": "ask_user",
        "reboot_deadline_hours": 48,  # far off: the service must not restart this machine
        "max_deferrals": 2,
    }
    store = Store(tmp_path / "agent" / "data" / "agent.db", PlainProtector())
    installed = [{"update_id": "linux-image-amd64=6.1.119-1", "state": "reboot_pending"}]
    reboot.record_pending(store, plan, installed, now=time.time(), boot=__import__("psutil").boot_time())
    store.close()
    app = _app(sock)
    wait_for(lambda: app.fetch()[0].get("reboot"), 30, "the restart question")
    app.refresh()
    window = app.reboot_window
    assert window is not None
    texts = _texts(window)
    assert "Reiniciar ahora" in texts and "Recordármelo en 60 min" in texts
    assert "Puede posponerlo 2 veces más." in texts
    _shot(window, "reinicio_pendiente")
    window.later_button.invoke()
    assert not window.winfo_exists()
    app.refresh()
    assert app.reboot_window is None  # not asked again for an hour

    def audited() -> list[dict[str, Any]]:
        with sqlite3.connect(tmp_path / "server" / "lanet.db") as db:
            rows = db.execute("select details from audit_log where action = 'patches.reboot'").fetchall()
        return [json.loads(r[0]) for r in rows]

    steps = wait_for(lambda: len(audited()) >= 2 and audited(), 30, "the reboot steps on the server")
    assert [s["action"] for s in steps] == ["asked", "deferred"]
    assert steps[1]["account"] == getpass.getuser() and steps[1]["deferrals"] == 1
    app.root.destroy()
