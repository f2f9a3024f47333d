"""What every tray window shares: the channel to the service and the translations."""

import time
from datetime import datetime
from typing import Any

from lanet.agent import local
from lanet.agent.tray.i18n import choose_language, translations

STATE_LABELS = {
    "online": "Online",
    "warning": "Advertencia",
    "offline": "Sin conexión",
    "starting": "Iniciando",
}
STATUS_COLOURS = {
    "nuevo": "#1e88e5",
    "asignado": "#1e88e5",
    "en_progreso": "#f9a825",
    "esperando_cliente": "#fb8c00",
    "resuelto": "#43a047",
    "cerrado": "#e53935",
    "pendiente": "#9e9e9e",
}


class TrayContext:
    def __init__(self, socket: str, language: str | None = None) -> None:
        self.socket = socket
        self.language = choose_language(language)
        self._ = translations(self.language).gettext

    def ask(self, op: str, **args: Any) -> Any:
        return local.call(self.socket, op, args)

    def when(self, timestamp: str | float | None) -> str:
        """ "Hoy 14:30", "Ayer 09:15" or "10/07/2025", in the viewer's time zone."""
        if timestamp is None:
            return self._("nunca")
        moment = (
            datetime.fromtimestamp(timestamp)
            if isinstance(timestamp, (int, float))
            else datetime.fromisoformat(timestamp).astimezone()
        )
        today = datetime.now().date()
        if moment.date() == today:
            return ("Today " if self.language == "en" else "Hoy ") + moment.strftime("%H:%M")
        if (today - moment.date()).days == 1:
            return ("Yesterday " if self.language == "en" else "Ayer ") + moment.strftime("%H:%M")
        return moment.strftime("%d/%m/%Y")

    def ago(self, timestamp: float | None) -> str:
        if timestamp is None:
            return self._("nunca")
        return self._("hace {n} minutos").format(n=max(0, int((time.time() - timestamp) // 60)))
