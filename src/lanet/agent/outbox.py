"""The durable outbox: what the agent must deliver, and the drain that delivers it.

Every kind of message the agent sends through the outbox is one :class:`Kind` in the registry the
service builds at start (:meth:`Outbox.register`): the endpoint, the priority, whether it is precious
(never dropped, whatever the backlog), how the stored payload becomes the request body, and what to do
with the server's answer. A new agent endpoint is one more entry.

One bad item never blocks the others:

- an item the server refuses with a 4xx (it is wrong, and sending it again cannot help) is
  *dead-lettered*: kept in the store, listed by ``lanet-agent status``, and reported to the server in
  the next heartbeat, never silently dropped;
- an item that gets a 5xx backs off on its own (capped exponential backoff with full jitter, from
  the transport) while the rest keep flowing;
- a 429 holds only the kinds sent to that endpoint (Sentry's per-category "disabled until");
- only what concerns every request stops the drain: the server unreachable, a 503 with
  ``Retry-After``, the agent's credentials refused. The transport owns that state; the drain never
  sleeps.
"""

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanet.agent import logs
from lanet.agent.store import OutboxItem, Store
from lanet.agent.transport import AuthLost, Deferred, Transport, TransportError

wire = logging.getLogger(logs.HEARTBEAT)
log = logging.getLogger("lanet.agent.outbox")

#: After this many consecutive server errors in one pass the drain waits for the next pass: a
#: server failing every request should not receive the whole backlog at once.
MAX_SERVER_ERRORS_PER_PASS = 3
#: When the credentials are refused, the items wait this long (the transport logged why).
AUTH_RETRY = 300.0


def _same(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _ignore(_payload: dict[str, Any], _data: dict[str, Any], _sent: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """One kind of outbox message."""

    name: str
    path: str
    priority: int
    #: Never dropped: tickets, command results and inventory (DESIGN §3). Heartbeats may be, when
    #: the backlog is over its bound (oldest first, counted).
    precious: bool
    #: The stored payload -> the request body (inventory keeps its digest beside the body).
    body: Callable[[dict[str, Any]], dict[str, Any]] = _same
    #: What the server's answer means for the agent (stored payload, answer data, the body sent).
    delivered: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None] = _ignore


class _Outcome(enum.Enum):
    SENT = "sent"
    REFUSED = "refused"  # dead-lettered; the drain goes on
    HELD = "held"  # this kind's endpoint is rate-limited; the others go on
    SERVER_ERROR = "server_error"  # backing off alone
    STOP = "stop"  # every request must wait


class Outbox:
    def __init__(self, store: Store, transport: Transport, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.transport = transport
        self.kinds: dict[str, Kind] = {}
        self._clock = clock

    def register(self, kind: Kind) -> None:
        if kind.name in self.kinds:
            raise ValueError(f"outbox kind {kind.name!r} is registered twice")
        self.kinds[kind.name] = kind

    def put(self, kind: str, item_id: str, payload: dict[str, Any]) -> bool:
        """Queue ``payload`` under the id the server deduplicates; False when already queued."""
        declared = self.kinds[kind]
        return self.store.enqueue(kind, item_id, payload, declared.priority, precious=declared.precious)

    def replace(self, kind: str, item_id: str, payload: dict[str, Any]) -> None:
        """Queue ``payload``, superseding whatever of its kind is still waiting (a newer inventory)."""
        self.store.replace_pending(kind, item_id, payload, self.kinds[kind].priority)

    def drain(self, deadline: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send what is due, by priority then age, until nothing is due, ``deadline`` passes, or the
        transport says every request must wait. Returns how many items were delivered."""
        sent = 0
        server_errors = 0
        held: set[str] = set()  # kinds whose endpoint is rate-limited for now
        while deadline is None or self._clock() < deadline:
            if should_stop() or self._clock() < self.transport.ready_at():
                break
            item = self.store.next_ready(self._clock(), skip=held)
            if item is None:
                break
            outcome = self._send(item)
            if outcome is _Outcome.SENT:
                sent += 1
                server_errors = 0
            elif outcome is _Outcome.HELD:
                held.add(item.kind)  # a 429 holds this endpoint only: the rest go on
            elif outcome is _Outcome.SERVER_ERROR:
                server_errors += 1
                if server_errors >= MAX_SERVER_ERRORS_PER_PASS:
                    break
            elif outcome is _Outcome.STOP:
                break
        return sent

    def _send(self, item: OutboxItem) -> "_Outcome":
        """Send one item and record what became of it."""
        kind = self.kinds.get(item.kind)
        if kind is None:  # written by another version of the agent
            self.store.dead_letter(item.id, f"no such outbox kind {item.kind!r} in this agent")
            return _Outcome.REFUSED
        try:
            body = kind.body(item.payload)
        except Exception as exc:  # a bug of ours about this item: it must not stay in flight
            log.exception("building the %s %s to send failed", item.kind, item.id)
            self.store.dead_letter(item.id, f"the agent could not build it: {type(exc).__name__}: {exc}")
            return _Outcome.REFUSED
        try:
            data = self.transport.post(kind.path, body)
        except Deferred as exc:
            self.store.retry_later(item.id, exc.until, str(exc), count=False)
            return _Outcome.STOP if exc.scope is None else _Outcome.HELD
        except AuthLost as exc:
            self.store.retry_later(item.id, self._clock() + AUTH_RETRY, str(exc))
            return _Outcome.STOP
        except TransportError as exc:
            if self._refused(item, exc):
                return _Outcome.REFUSED
            if exc.item_scoped:
                at = self._clock() + self.transport.item_backoff(item.attempts + 1)
                self.store.retry_later(item.id, at, str(exc))
                wire.warning("%s %s failed on the server, retried alone: %s", item.kind, item.id, exc)
                return _Outcome.SERVER_ERROR
            self.store.retry_later(item.id, self.transport.ready_at(), str(exc))
            wire.warning("%s not delivered, will retry: %s", item.kind, exc)
            return _Outcome.STOP
        self.store.delivered(item.id)
        self.store.put("last_contact", self._clock())
        try:
            kind.delivered(item.payload, data, body)
        except Exception:  # a bug in one handler must not stop the drain or lose the others
            log.exception("handling the answer to %s %s failed", item.kind, item.id)
        return _Outcome.SENT

    def _refused(self, item: OutboxItem, exc: TransportError) -> bool:
        """A 4xx about the item itself: dead-letter it (kept, shown, reported) and go on."""
        if exc.retryable or exc.status is None or not 400 <= exc.status < 500:
            return False
        self.store.dead_letter(item.id, str(exc), status=exc.status, code=exc.code)
        wire.error("%s %s refused by the backend, kept as a dead letter: %s", item.kind, item.id, exc)
        return True
