"""Drives the installed tray in the MSI's own Python: ``python.exe tray_driver.py OUT_DIR TEXT``.

Run by ``test_msi.py`` with the installed ``bin\\python.exe``, so what runs is the frozen build's
modules, Tcl/Tk and pystray's win32 backend, talking to the installed service over the named pipe.
It reports TEXT as a problem through the "Reportar Problema" window (with its screenshot), waits for the
ticket to reach the server, opens "Mis Tickets", saves pictures of both windows in OUT_DIR and
prints what it saw as JSON on its last line.
"""

import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import ImageGrab

from lanet.agent.local import channel_address
from lanet.agent.paths import AgentPaths
from lanet.agent.tray.app import TrayApp
from lanet.agent.tray.context import TrayContext


def _until(predicate: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"tray_driver: gave up waiting after {seconds} s")


def _shot(window: Any, path: Path) -> int:
    window.update()
    window.update_idletasks()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    ImageGrab.grab(bbox=(x, y, x + window.winfo_width(), y + window.winfo_height())).save(path)
    return path.stat().st_size


def main(out: Path, description: str) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    app = TrayApp(TrayContext(channel_address(AgentPaths.default()), "es"))
    _until(lambda: app.fetch()[0]["state"] in ("online", "warning"), 60)
    app.refresh()
    menu = [label for label, _ in app.menu_entries()]
    icon = app._make_icon()  # pystray's win32 backend: a hidden window and the notification icon
    icon_menu = [item.text for item in icon.menu.items]

    report = app.show_report()
    report.description.insert("1.0", description)
    labels = [label for _id, label in report.categories]
    report.category.current(labels.index("Impresora"))
    shots = {"reportar_problema": _shot(report, out / "reportar_problema.png")}
    report.submit_button.invoke()
    queued = report.result
    listed = _until(lambda: (m := app.ctx.ask("my_tickets"))["items"] and m, 60)
    tickets = app.show_tickets()
    shots["mis_tickets"] = _shot(tickets, out / "mis_tickets.png")
    app.root.destroy()
    tickets_seen = listed["items"]
    return {"menu": menu, "icon_menu": icon_menu, "queued": queued, "tickets": tickets_seen, "shots": shots}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
