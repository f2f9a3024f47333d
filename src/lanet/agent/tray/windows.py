"""The tray's windows, as the seed's mock-ups draw them: Reportar Problema, Mis Tickets, Estado del
Equipo, Configuración, and the small dialogs behind Ver / Comentar / Calificar / Historial.

Errors are shown inside the window (never a blocking message box), so the service's answer, good or
bad, is always in view."""

import base64
import io
import tkinter as tk
from tkinter import ttk
from typing import Any

from lanet.agent.local import LocalError
from lanet.agent.tray.context import STATE_LABELS, STATUS_COLOURS, TrayContext
from lanet.protocol.values import TICKET_PRIORITIES

PRIORITIES = TICKET_PRIORITIES
PRIORITY_LABELS_ES = {"baja": "Baja", "media": "Media", "alta": "Alta", "critica": "Crítica"}


def _capture_screen() -> bytes | None:
    """The user's screen as PNG, taken in the tray's own process (the user's session)."""
    try:
        from PIL import ImageGrab

        image = ImageGrab.grab()
    except Exception:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class _Window(tk.Toplevel):
    def __init__(self, master: tk.Misc, ctx: TrayContext, title: str) -> None:
        super().__init__(master)
        self.ctx = ctx
        self._ = ctx._
        self.title(title)
        self.resizable(False, False)
        self.body = ttk.Frame(self, padding=14)
        self.body.pack(fill="both", expand=True)
        self.message = tk.StringVar()
        self.message_label = ttk.Label(
            self.body, textvariable=self.message, foreground="#c62828", wraplength=460
        )

    def show_message(self, text: str, error: bool = True) -> None:
        self.message.set(text)
        self.message_label.configure(foreground="#c62828" if error else "#2e7d32")


class ReportWindow(_Window):
    """Reportar Problema: description, category, priority, the two boxes, the preview, Crear Ticket."""

    def __init__(self, master: tk.Misc, ctx: TrayContext) -> None:
        # The screenshot is of the screen as the user saw it when asking to report, before this window.
        self.screenshot = _capture_screen()
        super().__init__(master, ctx, ctx._("Reportar Problema - LANET Helpdesk"))
        _ = self._
        ttk.Label(self.body, text=_("Describe el problema:"), font=("TkDefaultFont", 10, "bold")).grid(
            row=0, column=0, columnspan=2, sticky="w"
        )
        self.description = tk.Text(self.body, width=56, height=5, wrap="word")
        self.description.grid(row=1, column=0, columnspan=2, pady=(4, 10), sticky="we")
        self.categories = self._categories()
        ttk.Label(self.body, text=_("Categoría:")).grid(row=2, column=0, sticky="w")
        self.category = ttk.Combobox(
            self.body, state="readonly", width=28, values=[label for _id, label in self.categories]
        )
        self.category.current(0)
        self.category.grid(row=2, column=1, sticky="w", pady=2)
        ttk.Label(self.body, text=_("Prioridad:")).grid(row=3, column=0, sticky="w")
        self.priority = ttk.Combobox(
            self.body, state="readonly", width=28, values=[self._priority_label(p) for p in PRIORITIES]
        )
        self.priority.current(1)
        self.priority.grid(row=3, column=1, sticky="w", pady=2)
        self.include_info = tk.BooleanVar(value=True)
        self.include_screenshot = tk.BooleanVar(value=self.screenshot is not None)
        ttk.Checkbutton(
            self.body,
            text=_("Incluir información técnica automática"),
            variable=self.include_info,
            command=self._toggle_preview,
        ).grid(row=4, column=0, columnspan=2, sticky="w", pady=(10, 0))
        ttk.Checkbutton(
            self.body,
            text=_("Incluir captura de pantalla"),
            variable=self.include_screenshot,
            state="normal" if self.screenshot else "disabled",
        ).grid(row=5, column=0, columnspan=2, sticky="w")
        self.preview_title = ttk.Label(
            self.body,
            text=_("Información que se enviará automáticamente:"),
            font=("TkDefaultFont", 10, "bold"),
        )
        self.preview_title.grid(row=6, column=0, columnspan=2, sticky="w", pady=(10, 2))
        self.preview = ttk.Label(self.body, text="\n".join(self.preview_lines()), justify="left")
        self.preview.grid(row=7, column=0, columnspan=2, sticky="w")
        self.message_label.grid(row=8, column=0, columnspan=2, sticky="w", pady=(8, 0))
        self.submit_button = ttk.Button(self.body, text=_("Crear Ticket"), command=self.submit)
        self.submit_button.grid(row=9, column=1, sticky="e", pady=(10, 0))
        self.result: dict[str, Any] | None = None

    def _priority_label(self, priority: str) -> str:
        return PRIORITY_LABELS_ES[priority] if self.ctx.language == "es" else self._(priority).capitalize()

    def _categories(self) -> list[tuple[str, str]]:
        try:
            items = self.ctx.ask("categories")
        except LocalError:
            items = [{"id": "otro", "label_es": "Otro", "label_en": "Other"}]
        key = "label_en" if self.ctx.language == "en" else "label_es"
        return [(item["id"], item[key]) for item in items]

    def preview_lines(self) -> list[str]:
        """The mock-up's six bullet lines, from the service's live view of this machine."""
        _ = self._
        try:
            info = self.ctx.ask("preview")
            status = self.ctx.ask("status")
        except LocalError as exc:
            return [f"• {exc}"]

        def pct(value: Any) -> str:
            return "-" if value is None else f"{value:.0f}"

        return [
            "• "
            + _("Equipo: {name} ({user})").format(
                name=info.get("equipo") or "-", user=info.get("usuario") or "-"
            ),
            "• " + _("Cliente: {client}").format(client=info.get("cliente") or "-"),
            "• " + _("Sitio: {site}").format(site=info.get("sitio") or "-"),
            "• "
            + _("CPU: {cpu}% | RAM: {ram}% | Disco: {disk}%").format(
                cpu=pct(info.get("cpu_usage")),
                ram=pct(info.get("memory_usage")),
                disk=pct(info.get("disk_usage")),
            ),
            "• " + _("IP: {ip}").format(ip=info.get("ip_address") or "-"),
            "• " + _("Última actualización: {when}").format(when=self.ctx.ago(status.get("last_contact"))),
        ]

    def _toggle_preview(self) -> None:
        if self.include_info.get():
            self.preview.grid()
            self.preview_title.grid()
        else:
            self.preview.grid_remove()
            self.preview_title.grid_remove()

    def submit(self) -> None:
        description = self.description.get("1.0", "end").strip()
        if not description:
            self.show_message(self._("Describe el problema antes de enviarlo."))
            return
        args: dict[str, Any] = {
            "description": description,
            "category": self.categories[self.category.current()][0],
            "priority": PRIORITIES[self.priority.current()],
            "include_info": self.include_info.get(),
        }
        if self.include_screenshot.get() and self.screenshot:
            args["screenshot_png_base64"] = base64.b64encode(self.screenshot).decode("ascii")
        try:
            self.result = self.ctx.ask("create_ticket", **args)
        except LocalError as exc:
            self.show_message(str(exc))
            return
        self.submit_button.state(["disabled"])
        self.show_message(self._("Ticket creado. Se enviará en cuanto haya conexión."), error=False)


class TicketsWindow(_Window):
    """Mis Tickets: search, refresh, one card per ticket with its colour, technician and channel."""

    def __init__(self, master: tk.Misc, ctx: TrayContext, on_new: Any = None) -> None:
        super().__init__(master, ctx, ctx._("Mis Tickets - LANET Helpdesk"))
        self.resizable(True, True)
        _ = self._
        top = ttk.Frame(self.body)
        top.pack(fill="x")
        self.search = ttk.Entry(top, width=44)
        self.search.insert(0, _("Buscar tickets..."))
        self.search.bind("<FocusIn>", lambda _e: self._clear_placeholder())
        self.search.bind("<Return>", lambda _e: self.refresh())
        self.search.pack(side="left", fill="x", expand=True)
        ttk.Button(top, text=_("Actualizar"), command=self.refresh).pack(side="left", padx=(6, 0))
        self.list = ttk.Frame(self.body)
        self.list.pack(fill="both", expand=True, pady=10)
        self.message_label.pack(fill="x")
        ttk.Button(self.body, text=_("Nuevo Ticket"), command=on_new or (lambda: None)).pack(anchor="e")
        self.tickets: list[dict[str, Any]] = []
        self.refresh()

    def _clear_placeholder(self) -> None:
        if self.search.get() == self._("Buscar tickets..."):
            self.search.delete(0, "end")

    def query(self) -> str:
        text = self.search.get().strip()
        return "" if text == self._("Buscar tickets...") else text

    def refresh(self) -> None:
        for child in self.list.winfo_children():
            child.destroy()
        try:
            data = self.ctx.ask("my_tickets", q=self.query())
        except LocalError as exc:
            self.show_message(str(exc))
            return
        pending = data.get("pending", [])
        if data.get("stale"):
            # The backend is unreachable: the last list it gave, and what is still to be sent.
            self.show_message(
                self._("Sin conexión con el servidor: se muestra la lista de {when}.").format(
                    when=self.ctx.when(data.get("cached_at")).lower()
                )
                if data.get("cached_at")
                else self._("Sin conexión con el servidor.")
            )
        else:
            self.show_message("")
        self.tickets = data["items"]
        for item in pending:
            self._card(
                {
                    "number": self._("no enviado") if item.get("refused") else self._("pendiente de envío"),
                    "subject": item["description"][:60],
                    "status": "pendiente",
                    "created_at": item["queued_at"],
                    "channel": "agente",
                },
                pending=True,
            )
        for ticket in self.tickets:
            self._card(ticket)
        if not self.tickets and not pending:
            ttk.Label(self.list, text=self._("No hay tickets.")).pack(anchor="w")

    def _card(self, ticket: dict[str, Any], pending: bool = False) -> None:
        _ = self._
        card = ttk.Frame(self.list, padding=(0, 6))
        card.pack(fill="x", anchor="w")
        head = ttk.Frame(card)
        head.pack(fill="x")
        dot = tk.Canvas(head, width=14, height=14, highlightthickness=0)
        dot.create_oval(2, 2, 12, 12, fill=STATUS_COLOURS.get(ticket["status"], "#9e9e9e"), outline="")
        dot.pack(side="left")
        ttk.Label(
            head, text=f"{ticket['number']} - {ticket['subject']}", font=("TkDefaultFont", 10, "bold")
        ).pack(side="left", padx=4)
        status = _(ticket["status"]) if not pending else _("pendiente de envío")
        status = status.replace("_", " ").capitalize() if self.ctx.language == "es" else status.capitalize()
        ttk.Label(
            card,
            text=_("Creado: {when} | Estado: {status}").format(
                when=self.ctx.when(ticket.get("created_at")), status=status
            ),
        ).pack(anchor="w", padx=18)
        if not pending:
            ttk.Label(
                card, text=_("Técnico: {name}").format(name=ticket.get("assigned_to") or _("Sin asignar"))
            ).pack(anchor="w", padx=18)
            ttk.Label(
                card, text=_("Canal: {channel}").format(channel=_(ticket["channel"]).capitalize())
            ).pack(anchor="w", padx=18)
            buttons = ttk.Frame(card)
            buttons.pack(anchor="w", padx=18, pady=(2, 0))
            ref = ticket["number"]
            ttk.Button(buttons, text=_("Ver"), command=lambda: DetailWindow(self, self.ctx, ref)).pack(
                side="left"
            )
            if ticket["status"] in ("resuelto",) and ticket.get("rating") is None:
                ttk.Button(
                    buttons, text=_("Calificar"), command=lambda: RateWindow(self, self.ctx, ref)
                ).pack(side="left", padx=4)
            elif ticket["status"] == "cerrado":
                ttk.Button(
                    buttons,
                    text=_("Historial"),
                    command=lambda: DetailWindow(self, self.ctx, ref, history=True),
                ).pack(side="left", padx=4)
            else:
                ttk.Button(
                    buttons, text=_("Comentar"), command=lambda: CommentWindow(self, self.ctx, ref)
                ).pack(side="left", padx=4)


class DetailWindow(_Window):
    def __init__(self, master: tk.Misc, ctx: TrayContext, ref: str, history: bool = False) -> None:
        super().__init__(master, ctx, f"{ref} - LANET Helpdesk")
        self.text = tk.Text(self.body, width=70, height=20, wrap="word")
        self.text.pack(fill="both", expand=True)
        self.message_label.pack(fill="x")
        try:
            ticket = ctx.ask("ticket_detail", ref=ref)
        except LocalError as exc:
            self.show_message(str(exc))
            return
        lines = [f"{ticket['number']} - {ticket['subject']}", "", ticket["description"], ""]
        if history:
            lines += [
                f"{ctx.when(e['at'])}  {e['field']}: {e.get('old') or '-'} → {e.get('new') or '-'}"
                for e in ticket["history"]
            ]
        else:
            lines += [f"[{ctx.when(c['created_at'])}] {c['author']}: {c['body']}" for c in ticket["comments"]]
        self.text.insert("1.0", "\n".join(lines))
        self.text.configure(state="disabled")


class CommentWindow(_Window):
    def __init__(self, master: tk.Misc, ctx: TrayContext, ref: str) -> None:
        super().__init__(master, ctx, f"{ref} - {ctx._('Comentar')}")
        self.ref = ref
        ttk.Label(self.body, text=self._("Escribe tu comentario:")).pack(anchor="w")
        self.text = tk.Text(self.body, width=50, height=5, wrap="word")
        self.text.pack(fill="both", pady=4)
        self.message_label.pack(fill="x")
        self.send_button = ttk.Button(self.body, text=self._("Enviar"), command=self.submit)
        self.send_button.pack(anchor="e")

    def submit(self) -> None:
        body = self.text.get("1.0", "end").strip()
        if not body:
            return
        try:
            self.ctx.ask("comment", ref=self.ref, body=body)
        except LocalError as exc:
            self.show_message(str(exc))
            return
        self.destroy()


class RateWindow(_Window):
    def __init__(self, master: tk.Misc, ctx: TrayContext, ref: str) -> None:
        super().__init__(master, ctx, f"{ref} - {ctx._('Calificar')}")
        self.ref = ref
        ttk.Label(self.body, text=self._("¿Cómo calificas la atención? (1-5)")).pack(anchor="w")
        self.rating = tk.IntVar(value=5)
        row = ttk.Frame(self.body)
        row.pack(anchor="w", pady=4)
        for value in range(1, 6):
            ttk.Radiobutton(row, text="★" * value, value=value, variable=self.rating).pack(anchor="w")
        self.message_label.pack(fill="x")
        ttk.Button(self.body, text=self._("Enviar"), command=self.submit).pack(anchor="e")

    def submit(self) -> None:
        try:
            self.ctx.ask("rate", ref=self.ref, rating=int(self.rating.get()))
        except LocalError as exc:
            self.show_message(str(exc))
            return
        self.destroy()


class _Facts(_Window):
    def fill(self, rows: list[tuple[str, Any]]) -> None:
        for index, (label, value) in enumerate(rows):
            ttk.Label(self.body, text=label, font=("TkDefaultFont", 10, "bold")).grid(
                row=index, column=0, sticky="w", padx=(0, 12), pady=2
            )
            ttk.Label(self.body, text="-" if value in (None, "") else str(value)).grid(
                row=index, column=1, sticky="w"
            )
        self.message_label.grid(row=len(rows), column=0, columnspan=2, sticky="w")


class StatusWindow(_Facts):
    """Estado del Equipo: the connection, this machine's numbers, its open alerts."""

    def __init__(self, master: tk.Misc, ctx: TrayContext) -> None:
        super().__init__(master, ctx, ctx._("Estado del Equipo - LANET Helpdesk"))
        _ = self._
        try:
            status, info = ctx.ask("status"), ctx.ask("preview")
        except LocalError as exc:
            self.fill([])
            self.show_message(str(exc))
            return
        self.fill(
            [
                (
                    "Estado" if ctx.language == "es" else "Status",
                    _(STATE_LABELS.get(status["state"], status["state"])),
                ),
                (_("Cliente"), status.get("client_name")),
                (_("Sitio"), status.get("site_name")),
                ("Equipo" if ctx.language == "es" else "Computer", info.get("equipo")),
                ("CPU", f"{info.get('cpu_usage')} %"),
                ("RAM", f"{info.get('memory_usage')} %"),
                ("Disco" if ctx.language == "es" else "Disk", f"{info.get('disk_usage')} %"),
                ("IP", info.get("ip_address")),
                (_("Último contacto"), ctx.ago(status.get("last_contact"))),
                (
                    "Alertas" if ctx.language == "es" else "Alerts",
                    ", ".join(status.get("open_alerts") or []) or "-",
                ),
            ]
        )


class SettingsWindow(_Facts):
    """Configuración, read-only: what this agent is set to."""

    def __init__(self, master: tk.Misc, ctx: TrayContext) -> None:
        super().__init__(master, ctx, ctx._("Configuración - LANET Helpdesk"))
        _ = self._
        try:
            status = ctx.ask("status")
        except LocalError as exc:
            self.fill([])
            self.show_message(str(exc))
            return
        self.fill(
            [
                (_("Servidor"), status.get("backend")),
                (_("Cliente"), status.get("client_name")),
                (_("Sitio"), status.get("site_name")),
                (_("Versión"), status.get("version")),
                (_("Intervalo de heartbeat"), f"{status.get('heartbeat_interval')} s"),
                (_("Último contacto"), ctx.when(status.get("last_contact"))),
            ]
        )


class RebootWindow(_Window):
    """The restart the installed updates wait for (policy ``ask_user``): restart now, or later while
    deferrals are left; the deadline is always in view, since at it the PC restarts anyway."""

    def __init__(self, master: tk.Misc, ctx: TrayContext, prompt: dict[str, Any]) -> None:
        super().__init__(master, ctx, ctx._("Reinicio pendiente - LANET Helpdesk"))
        _ = self._
        self.prompt = prompt
        left = int(prompt.get("deferrals_left", 0))
        text = _(
            "Se instalaron actualizaciones que necesitan reiniciar el equipo. "
            "Guarde su trabajo. El equipo se reiniciará a más tardar {deadline}."
        ).format(deadline=ctx.when(prompt.get("deadline")))
        ttk.Label(self.body, text=text, wraplength=420, justify="left").grid(
            row=0, column=0, columnspan=2, sticky="w"
        )
        if left:
            later = _("Puede posponerlo {n} vez más.") if left == 1 else _("Puede posponerlo {n} veces más.")
            note = later.format(n=left)
        else:
            note = _("Ya no puede posponerlo.")
        ttk.Label(self.body, text=note).grid(row=1, column=0, columnspan=2, sticky="w", pady=(8, 8))
        self.now_button = ttk.Button(self.body, text=_("Reiniciar ahora"), command=self.restart_now)
        self.now_button.grid(row=2, column=0, sticky="w")
        self.later_button = ttk.Button(
            self.body,
            text=_("Recordármelo en {n} min").format(n=prompt.get("defer_minutes", 60)),
            command=self.later,
            state="normal" if left else "disabled",
        )
        self.later_button.grid(row=2, column=1, sticky="e")
        self.message_label.grid(row=3, column=0, columnspan=2, sticky="w")
        self.attributes("-topmost", True)

    def restart_now(self) -> None:
        self._answer("reboot_now")

    def later(self) -> None:
        self._answer("reboot_later")

    def _answer(self, op: str) -> None:
        try:
            self.ctx.ask(op)
        except LocalError as exc:
            self.show_message(self._(str(exc)))  # the service's words, in the catalog
            return
        self.destroy()
