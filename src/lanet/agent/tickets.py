"""Tickets reported from the PC: the service's side of the tray's ticket windows.

The service builds each ticket (never the tray, which holds no credentials), validates it with the
shared contract, and sends it through the durable outbox, so a ticket written while the backend is
down is kept, shown as pending, and created once when the connection returns. Every view is the
calling user's own: the reporter of a ticket is the OS account that asked, and "Mis Tickets", a
ticket's detail, comments and ratings are scoped to it on the server too.

While the backend is unreachable, "Mis Tickets" shows the last list the server gave this user
(marked as such, with its time) and the tickets still waiting to be sent.
"""

import base64
import binascii
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from lanet.agent import collectors
from lanet.agent.local.framing import LocalError
from lanet.agent.local.service import Caller
from lanet.agent.outbox import Outbox
from lanet.agent.store import Store
from lanet.agent.transport import Transport, TransportError
from lanet.protocol import contract
from lanet.protocol.contract import ContractError, Record, dotted
from lanet.protocol.limits import CATEGORIES, MAX_SCREENSHOT_BYTES

log = logging.getLogger("lanet.agent.tickets")

#: Accounts whose last ticket list is kept for offline viewing.
CACHED_ACCOUNTS = 20


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def technical_info(sampler: collectors.MetricsSampler, store: Store, agent: Record) -> dict[str, Any]:
    """What the seed's "Información que se enviará automáticamente" lists, as data."""
    hardware = collectors.hardware()
    metrics = sampler.sample()
    return {
        "equipo": hardware.get("computer_name"),
        "usuario": hardware.get("assigned_user"),
        "cliente": store.get("client_name"),
        "sitio": store.get("site_name"),
        "cpu_usage": metrics.get("cpu_usage"),
        "memory_usage": metrics.get("memory_usage"),
        "disk_usage": metrics.get("disk_usage"),
        "ip_address": hardware.get("ip_address"),
        "os": hardware.get("os"),
        "os_version": hardware.get("os_version"),
        "uptime": metrics.get("uptime"),
        "last_contact": _iso(store.get("last_contact")),
        "agent_version": agent.version,
    }


def _explain(exc: ContractError) -> str:
    """The contract's problems as the tray shows them: ``priority must be one of ...``."""
    return "; ".join(f"{dotted(loc) or 'the ticket'} {message}" for loc, message in exc.problems[:3])


class AgentTicketDesk:
    """:class:`lanet.agent.local.service.TicketDesk` over the store, the outbox and the transport."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        transport: Callable[[], Transport],
        identity: Callable[[], Record],
        info: Callable[[], dict[str, Any]],
    ) -> None:
        self.store = store
        self.outbox = outbox
        self._transport = transport
        self._identity = identity
        self._info = info

    # --- the tray's form --------------------------------------------------------------------------
    def categories(self) -> list[dict[str, str]]:
        return [{"id": key, "label_es": es, "label_en": en} for key, (es, en) in CATEGORIES.items()]

    def preview(self) -> dict[str, Any]:
        return self._info()

    def create(self, caller: Caller, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate and queue the ticket; its client-made id makes the server create it once."""
        agent = self._identity()
        ticket_id = str(uuid.uuid4())
        screenshot = fields.get("screenshot_png_base64")
        if screenshot:
            try:
                png = base64.b64decode(screenshot, validate=True)
            except (binascii.Error, ValueError):
                raise LocalError("the screenshot is not valid base64") from None
            if len(png) > MAX_SCREENSHOT_BYTES:
                raise LocalError(f"the screenshot is larger than {MAX_SCREENSHOT_BYTES // (1024 * 1024)} MB")
        body: dict[str, Any] = {
            "description": fields["description"],
            "category": fields["category"],
            "priority": fields.get("priority", "media"),
            "channel": "agente",
            "auto_info": self._info() if fields.get("include_info", True) else None,
            "asset_id": agent.asset_id,
            "client_id": agent.client_id,
            "site_id": agent.site_id,
            "created_by_agent": True,
            "subject": fields.get("subject"),
            "reporter_name": fields.get("reporter_name") or caller.display_name or caller.account,
            "reporter_account": caller.account,
            "screenshot_png_base64": screenshot or None,
            "client_ticket_id": ticket_id,
        }
        try:
            checked = contract.drop_none(contract.validate("TicketFromAgent", body))
        except ContractError as exc:
            raise LocalError(_explain(exc)) from None
        self.outbox.put("ticket", ticket_id, checked)
        return {"client_ticket_id": ticket_id, "queued": True}

    # --- what the user sees -------------------------------------------------------------------------
    def pending(self, caller: Caller) -> list[dict[str, Any]]:
        """This user's tickets not yet on the server ("pendiente de envío"), and any it refused."""
        return [
            {
                "client_ticket_id": item.id,
                "description": item.payload.get("description", ""),
                "queued_at": item.created_at,
                "refused": item.last_error if item.status == "dead" else None,
            }
            for item in self.store.pending_items("ticket", include_dead=True)
            if item.payload.get("reporter_account", caller.account) == caller.account
        ]

    def sent(self, caller: Caller) -> dict[str, str]:
        numbers: dict[str, str] = self.store.get("sent_tickets", {})
        owners: dict[str, str] = self.store.get("sent_ticket_accounts", {})
        return {
            cid: number
            for cid, number in numbers.items()
            if owners.get(cid, caller.account) == caller.account
        }

    def delivered(self, payload: dict[str, Any], data: dict[str, Any], _sent: dict[str, Any]) -> None:
        """The outbox's answer handler: remember the TKT number the server gave the ticket."""
        ticket_id = payload["client_ticket_id"]
        sent = self.store.get("sent_tickets", {})
        sent[ticket_id] = data.get("number")
        owners = self.store.get("sent_ticket_accounts", {})
        owners[ticket_id] = payload.get("reporter_account")
        self.store.put("sent_tickets", dict(list(sent.items())[-50:]))
        self.store.put("sent_ticket_accounts", dict(list(owners.items())[-50:]))
        log.info("ticket %s created on the backend", data.get("number"))

    def mine_summary(self, caller: Caller) -> dict[str, Any]:
        cached = self.store.get("ticket_lists", {}).get(caller.account)
        return {
            "open_tickets": cached["open_count"] if cached else None,
            "pending_tickets": self.pending(caller),
            "sent_tickets": self.sent(caller),
        }

    def mine(self, caller: Caller, text: str | None) -> dict[str, Any]:
        """The user's tickets from the server, or (unreachable) the last list it gave this user."""
        params = {"q": text or "", "account": caller.account}
        try:
            data = self._transport().get("/tickets/my-tickets", params)
        except TransportError as exc:
            if not exc.retryable:
                raise LocalError(str(exc)) from None
            return self._offline(caller, text, exc)
        if not text:
            self._remember(caller, data)
        return {**data, "pending": self.pending(caller), "stale": False}

    def _remember(self, caller: Caller, data: dict[str, Any]) -> None:
        lists: dict[str, Any] = self.store.get("ticket_lists", {})
        lists.pop(caller.account, None)
        lists[caller.account] = {
            "items": data.get("items", []),
            "open_count": data.get("open_count", 0),
            "at": time.time(),
        }
        self.store.put("ticket_lists", dict(list(lists.items())[-CACHED_ACCOUNTS:]))

    def _offline(self, caller: Caller, text: str | None, exc: TransportError) -> dict[str, Any]:
        cached = self.store.get("ticket_lists", {}).get(caller.account) or {
            "items": [],
            "open_count": 0,
            "at": None,
        }
        items = cached["items"]
        if text:
            needle = text.lower()
            items = [
                item
                for item in items
                if needle
                in f"{item.get('number', '')} {item.get('subject', '')} {item.get('description', '')}".lower()
            ]
        return {
            "items": items,
            "open_count": cached["open_count"],
            "pending": self.pending(caller),
            "stale": True,
            "cached_at": cached["at"],
            "offline_reason": str(exc),
        }

    def detail(self, caller: Caller, ref: str) -> dict[str, Any]:
        return self._backend(lambda t: t.get(f"/tickets/{quote(ref)}", {"account": caller.account}))

    def comment(self, caller: Caller, ref: str, body: str, author_name: str | None) -> dict[str, Any]:
        request = {"body": body, "author_name": author_name or caller.display_name or caller.account}
        path = f"/tickets/{quote(ref)}/comments?{urlencode({'account': caller.account})}"
        return self._backend(lambda t: t.post(path, request))

    def rate(self, caller: Caller, ref: str, rating: int, comment: str | None) -> dict[str, Any]:
        path = f"/tickets/{quote(ref)}/rate?{urlencode({'account': caller.account})}"
        return self._backend(lambda t: t.post(path, {"rating": rating, "comment": comment}))

    def _backend(self, call: Callable[[Transport], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call(self._transport())
        except TransportError as exc:
            raise LocalError(f"sin conexión con el servidor: {exc}" if exc.retryable else str(exc)) from None
