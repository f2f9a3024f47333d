"""The operations the tray may ask of the service, and the rules every request passes first.

The operations are given narrow interfaces, not the agent: a :class:`TicketDesk` for tickets, a
status callable, a sync request. The caller's identity comes from the operating system (peer
credentials on the Unix socket, the client's token on the named pipe), never from the request: "Mis
Tickets" shows the calling user's tickets, and the reporter of a ticket is that user.

Every field is checked here before anything reaches the network, per-user throttles keep one local
user from using up the asset's quota on the server (``force_sync``) or flooding the helpdesk
(``create_ticket``), and no request, however malformed, can raise out of :meth:`LocalService.handle`.
"""

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lanet.agent.local.framing import LocalError, encode_answer
from lanet.protocol.limits import CATEGORIES
from lanet.protocol.values import TICKET_PRIORITIES as PRIORITIES

log = logging.getLogger("lanet.agent.local")

#: A ticket reference: its number (as people type it, in either case), or its id.
_REF = re.compile(
    r"TKT-[0-9]{1,10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
#: force_sync at most once per this many seconds per user, and across users.
SYNC_EVERY_PER_USER = 30.0
SYNC_EVERY = 10.0
#: Tickets one user may create per window (seconds).
TICKETS_PER_WINDOW = 5
TICKET_WINDOW = 600.0
#: Reads of a ticket, comments and ratings one user may send per minute: the server counts every
#: user of the PC against one per-asset budget, which one user must not use up for the others.
VIEWS_PER_MINUTE = 30


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the OS says: ``account`` is the login (``juan``, ``OFICINA\\juan``)."""

    account: str
    display_name: str | None = None


class TicketDesk(Protocol):
    """What the tray's ticket windows need (implemented by :mod:`lanet.agent.tickets`)."""

    def categories(self) -> list[dict[str, str]]: ...
    def preview(self) -> dict[str, Any]: ...
    def create(self, caller: Caller, fields: dict[str, Any]) -> dict[str, Any]: ...
    def mine(self, caller: Caller, text: str | None) -> dict[str, Any]: ...
    def detail(self, caller: Caller, ref: str) -> dict[str, Any]: ...
    def comment(self, caller: Caller, ref: str, body: str, author_name: str | None) -> dict[str, Any]: ...
    def rate(self, caller: Caller, ref: str, rating: int, comment: str | None) -> dict[str, Any]: ...
    def mine_summary(self, caller: Caller) -> dict[str, Any]: ...


class RebootDesk(Protocol):
    """The restart that installed updates wait for (implemented by :mod:`lanet.agent.patches.reboot`).
    An answer that cannot be taken raises ValueError with the user's words (the tray imports this
    module, and the agent's HTTP stack is not the tray's)."""

    def prompt(self) -> dict[str, Any] | None: ...
    def accept(self, account: str) -> dict[str, Any]: ...
    def defer(self, account: str) -> dict[str, Any]: ...


def text_arg(args: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str | None:
    """A text argument: present when required, a string, at most ``limit`` characters, without
    control characters other than line breaks and tabs (nothing a person types)."""
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise LocalError(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise LocalError(f"{name} must be text of at most {limit} characters")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value) or "\x7f" in value:
        raise LocalError(f"{name} contains control characters")
    return value.strip()


def line_arg(args: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    """A one-line text argument (a search, a name): no line breaks either."""
    value = text_arg(args, name, limit, required=required)
    if value is not None and any(ch in value for ch in "\r\n\t"):
        raise LocalError(f"{name} must be a single line")
    return value


def ref_arg(args: dict[str, Any]) -> str:
    ref = args.get("ref")
    if not isinstance(ref, str) or not _REF.fullmatch(ref.strip()):
        raise LocalError("ref must be a ticket number such as TKT-000123")
    return ref.strip().upper() if ref.strip().upper().startswith("TKT-") else ref.strip().lower()


class _Throttle:
    """At most ``count`` events per ``window`` seconds per key."""

    def __init__(self, count: int, window: float, clock: Callable[[], float]) -> None:
        self.count, self.window, self.clock = count, window, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def ready(self, key: str) -> bool:
        """Whether :meth:`allow` would, without counting an event."""
        now = self.clock()
        with self._lock:
            events = self._events.get(key, ())
            return sum(1 for at in events if at > now - self.window) < self.count

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.count:
                return False
            events.append(now)
            if len(self._events) > 1000:  # forget users seen long ago
                self._events = {k: v for k, v in self._events.items() if v}
            return True


class LocalService:
    def __init__(
        self,
        desk: TicketDesk,
        status: Callable[[], dict[str, Any]],
        request_sync: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        reboots: RebootDesk | None = None,
    ) -> None:
        self.desk = desk
        self.reboots = reboots
        self.status = status
        self.request_sync = request_sync
        self._sync_user = _Throttle(1, SYNC_EVERY_PER_USER, clock)
        self._sync_all = _Throttle(1, SYNC_EVERY, clock)
        self._tickets = _Throttle(TICKETS_PER_WINDOW, TICKET_WINDOW, clock)
        self._views = _Throttle(VIEWS_PER_MINUTE, 60.0, clock)

    def handle(self, caller: Caller, op: str, args: dict[str, Any]) -> bytes:
        """The answer line to one request; never raises."""
        try:
            handler: Callable[[Caller, dict[str, Any]], Any] | None = getattr(self, f"op_{op}", None)
            if handler is None:
                raise LocalError(f"unknown operation {op!r}")
            return encode_answer(handler(caller, args))
        except LocalError as exc:
            return encode_answer(error=str(exc))
        except Exception:  # the service must outlive any request
            log.exception("local request %s from %s failed", op, caller.account)
            return encode_answer(error="internal error in the agent service")

    # --- operations -------------------------------------------------------------------------------
    def op_status(self, caller: Caller, _args: dict[str, Any]) -> dict[str, Any]:
        reboot = self.reboots.prompt() if self.reboots is not None else None
        return {**self.status(), **self.desk.mine_summary(caller), "user": caller.account, "reboot": reboot}

    def op_reboot_now(self, caller: Caller, _args: dict[str, Any]) -> dict[str, Any]:
        """The logged-in user accepts the restart the updates wait for (recorded with their account)."""
        return self._reboot(lambda desk: desk.accept(caller.account))

    def op_reboot_later(self, caller: Caller, _args: dict[str, Any]) -> dict[str, Any]:
        return self._reboot(lambda desk: desk.defer(caller.account))

    def _reboot(self, answer: Callable[[RebootDesk], dict[str, Any]]) -> dict[str, Any]:
        if self.reboots is None:
            raise LocalError("no hay un reinicio pendiente")
        try:
            result = answer(self.reboots)
        except ValueError as exc:  # RebootRefused: nothing waits, no deferral left
            raise LocalError(str(exc)) from None
        self.request_sync()
        return result

    def op_preview(self, _caller: Caller, _args: dict[str, Any]) -> dict[str, Any]:
        return self.desk.preview()

    def op_categories(self, _caller: Caller, _args: dict[str, Any]) -> list[dict[str, str]]:
        return self.desk.categories()

    def op_create_ticket(self, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        description = text_arg(args, "description", 20_000)
        category = args.get("category")
        if category not in CATEGORIES:
            raise LocalError(f"category must be one of {', '.join(CATEGORIES)}")
        priority = args.get("priority", "media")
        if priority not in PRIORITIES:
            raise LocalError(f"priority must be one of {', '.join(PRIORITIES)}")
        screenshot = args.get("screenshot_png_base64")
        if screenshot is not None and not isinstance(screenshot, str):
            raise LocalError("the screenshot must be base64 text")
        fields = {
            "description": description,
            "category": category,
            "priority": priority,
            "subject": line_arg(args, "subject", 255),
            "reporter_name": line_arg(args, "reporter_name", 255),
            "include_info": bool(args.get("include_info", True)),
            "screenshot_png_base64": screenshot or None,
        }
        if not self._tickets.allow(caller.account):
            raise LocalError(
                f"ya envió {TICKETS_PER_WINDOW} tickets en los últimos {int(TICKET_WINDOW // 60)} minutos; "
                "espere un momento"
            )
        created = self.desk.create(caller, fields)
        self.request_sync()
        return created

    def op_my_tickets(self, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        return self.desk.mine(caller, line_arg(args, "q", 255))

    def op_ticket_detail(self, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        ref = ref_arg(args)
        self._view(caller)
        return self.desk.detail(caller, ref)

    def op_comment(self, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        ref = ref_arg(args)
        body = text_arg(args, "body", 10_000) or ""
        author = line_arg(args, "author_name", 255)
        self._view(caller)
        return self.desk.comment(caller, ref, body, author)

    def op_rate(self, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        ref = ref_arg(args)
        rating = args.get("rating")
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise LocalError("rating must be a whole number from 1 to 5")
        comment = text_arg(args, "comment", 2000, required=False)
        self._view(caller)
        return self.desk.rate(caller, ref, rating, comment)

    def _view(self, caller: Caller) -> None:
        if not self._views.allow(caller.account):
            raise LocalError("demasiadas consultas seguidas; espere un momento")

    def op_force_sync(self, caller: Caller, _args: dict[str, Any]) -> dict[str, Any]:
        # Each sync is a heartbeat against the asset's quota on the server: throttled per user and
        # overall, and answered the same either way (a sync already on its way serves everyone). A
        # request absorbed by the overall limit does not count against its user.
        if self._sync_user.ready(caller.account) and self._sync_all.allow("*"):
            self._sync_user.allow(caller.account)
            self.request_sync()
        return {"requested": True}
