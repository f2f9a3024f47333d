"""The tray app: the seed's icon and menu over a Tk main loop.

Tk owns the main thread. pystray runs its own loop in another thread and its callbacks only post work
to a queue that Tk drains every 100 ms; a poller thread asks the service for the status and the
tickets every :data:`POLL_SECONDS` and posts the result the same way, so no Tk call ever happens off
the main thread.

Linux: pystray's xorg backend needs a running tray (system tray manager) and offers only the default
item on a left click, with no menu; the windows and the notifications work regardless. On Windows the
win32 backend shows the full menu.
"""

import functools
import logging
import queue
import threading
import tkinter as tk
from collections.abc import Callable
from typing import Any

from lanet.agent.local import LocalError
from lanet.agent.tray.context import STATE_LABELS, TrayContext
from lanet.agent.tray.windows import RebootWindow, ReportWindow, SettingsWindow, StatusWindow, TicketsWindow

log = logging.getLogger("lanet.agent.tray")
POLL_SECONDS = 15.0


class TrayApp:
    def __init__(self, ctx: TrayContext, root: tk.Tk | None = None) -> None:
        self.ctx = ctx
        self._ = ctx._
        self.root = root or tk.Tk()
        self.root.withdraw()
        self.root.title("LANET Agent")
        self.jobs: queue.Queue[Callable[[], object]] = queue.Queue()
        self.status: dict[str, Any] = {"state": "starting"}
        self.open_count = 0
        self.known_statuses: dict[str, str] | None = None
        self.notifications: list[str] = []
        self.icon: Any = None
        self.reboot_window: RebootWindow | None = None
        self._stop = threading.Event()

    # --- the menu (the seed's items, in its order) ------------------------------------------------
    def state_label(self) -> str:
        status = self.status
        return (
            self._("Estado: {state} - {client} {site}")
            .format(
                state=self._(STATE_LABELS.get(status.get("state", "starting"), "Iniciando")),
                client=status.get("client_name") or "",
                site=status.get("site_name") or "",
            )
            .strip()
        )

    def menu_entries(self) -> list[tuple[str, Callable[[], object] | None]]:
        _ = self._
        return [
            (self.state_label(), None),
            (_("Ver Estado del Equipo"), self.show_status),
            (_("Reportar Problema"), self.show_report),
            (_("Mis Tickets ({count} abiertos)").format(count=self.open_count), self.show_tickets),
            (_("Configuración"), self.show_settings),
            (_("Salir"), self.quit),
        ]

    # --- windows ----------------------------------------------------------------------------------
    def show_report(self) -> ReportWindow:
        return ReportWindow(self.root, self.ctx)

    def show_tickets(self) -> TicketsWindow:
        return TicketsWindow(self.root, self.ctx, on_new=self.show_report)

    def show_status(self) -> StatusWindow:
        return StatusWindow(self.root, self.ctx)

    def show_settings(self) -> SettingsWindow:
        return SettingsWindow(self.root, self.ctx)

    def ask_reboot(self, prompt: dict[str, Any] | None) -> None:
        """Main thread: show the service's restart question once, while it is asked."""
        window = self.reboot_window
        if window is not None and not window.winfo_exists():
            window = self.reboot_window = None
        if prompt is None:
            if window is not None:
                window.destroy()  # answered elsewhere (another user, the deadline)
                self.reboot_window = None
        elif window is None:
            self.reboot_window = RebootWindow(self.root, self.ctx, prompt)

    # --- state ------------------------------------------------------------------------------------
    def fetch(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Ask the service (any thread): the status, and the tickets when it can reach the backend."""
        try:
            status = self.ctx.ask("status")
        except LocalError as exc:
            return {"state": "offline", "last_error": str(exc)}, None
        try:
            tickets = self.ctx.ask("my_tickets")
        except LocalError:
            tickets = None
        return status, tickets

    def apply(self, status: dict[str, Any], tickets: dict[str, Any] | None) -> None:
        """Main thread: update the icon and menu, notify about tickets that changed status."""
        self.status = status
        if status.get("state") != "offline":
            self.ask_reboot(status.get("reboot"))
        if tickets is not None:
            self.open_count = tickets.get("open_count", 0)
            current = {t["number"]: t["status"] for t in tickets.get("items", [])}
            if self.known_statuses is not None:
                for number, state in current.items():
                    before = self.known_statuses.get(number)
                    if before is not None and before != state:
                        self.notify(
                            self._("El ticket {number} cambió a: {status}").format(
                                number=number, status=self._(state)
                            )
                        )
            self.known_statuses = current
        if self.icon is not None:
            from lanet.agent.tray.icons import icon_image

            self.icon.icon = icon_image(status.get("state", "starting"))
            self.icon.title = self.state_label()
            self.icon.update_menu()

    def refresh(self) -> None:
        self.apply(*self.fetch())

    def notify(self, message: str) -> None:
        self.notifications.append(message)
        log.info("notification: %s", message)
        if self.icon is not None:
            try:
                self.icon.notify(message, "LANET Agent")
            except Exception:  # not every backend can; the message is in the log and the windows
                log.debug("tray backend could not show the notification", exc_info=True)

    # --- loops ------------------------------------------------------------------------------------
    def post(self, job: Callable[[], object]) -> None:
        self.jobs.put(job)

    def _drain(self) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            try:
                job()
            except Exception:
                log.exception("tray action failed")
        if not self._stop.is_set():
            self.root.after(100, self._drain)

    def _poll(self) -> None:
        while not self._stop.is_set():
            status, tickets = self.fetch()
            self.post(functools.partial(self.apply, status, tickets))
            self._stop.wait(POLL_SECONDS)

    def _make_icon(self) -> Any:
        import pystray  # needs a display: imported only when the icon is made

        from lanet.agent.tray.icons import icon_image

        def item(index: int, default: bool = False) -> Any:
            def text(_item: Any) -> str:
                return self.menu_entries()[index][0]

            def action(_icon: Any, _item: Any) -> None:
                handler = self.menu_entries()[index][1]
                if handler is not None:
                    self.post(handler)

            return pystray.MenuItem(text, action, default=default, enabled=index != 0)

        menu = pystray.Menu(item(0), item(1), item(2, default=True), item(3), item(4), item(5))
        return pystray.Icon("lanet-agent", icon_image("starting"), self.state_label(), menu)

    def run(self) -> int:
        try:
            self.icon = self._make_icon()
            self.icon.run_detached()
        except Exception as exc:
            log.warning("no system tray icon (%s); the windows still work", exc)
            self.icon = None
        threading.Thread(target=self._poll, name="tray-poll", daemon=True).start()
        self.root.after(100, self._drain)
        self.root.mainloop()
        return 0

    def quit(self) -> None:
        self._stop.set()
        if self.icon is not None:
            self.icon.stop()
        self.root.quit()
