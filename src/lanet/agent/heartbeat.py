"""What a heartbeat carries, built from what the service gathered: :func:`build` is a pure function,
and :class:`HeartbeatSource` gathers without side effects when asked for a preview, so
``lanet-agent collect`` shows exactly the next heartbeat without sending, storing or draining
anything.

A *check-in* is the heartbeat of an agent whose heartbeat is switched off (``heartbeat.enabled:
false``): no metrics, alerts or logs, only what keeps the server able to reach the agent (pushed
configuration, commands, acknowledgements). No pushed value may cut the server off from an agent:
configuration only travels in heartbeat answers, so without check-ins ``heartbeat_enabled=false``
could never be undone remotely.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lanet
from lanet.agent import collectors
from lanet.agent.logs import HEARTBEAT, BackendBuffer
from lanet.agent.monitor import Monitor
from lanet.agent.outbox import Outbox
from lanet.agent.store import DeadLetter, Store
from lanet.agent.update import package_platform
from lanet.protocol import contract
from lanet.protocol.contract import Record

wire = logging.getLogger(HEARTBEAT)

#: Dead letters named in one heartbeat (each is reported once).
DEAD_LETTERS_PER_HEARTBEAT = 20
#: A switched-off heartbeat still checks in this many intervals apart (bounded below and above).
CHECKIN_INTERVALS = 4
CHECKIN_MIN = 30.0
CHECKIN_MAX = 900.0


def checkin_interval(heartbeat_interval: float) -> float:
    return min(max(heartbeat_interval * CHECKIN_INTERVALS, CHECKIN_MIN), CHECKIN_MAX)


@dataclass
class Gathered:
    """Everything a heartbeat is made of, collected by the service."""

    asset_id: str
    metrics: dict[str, Any] = field(default_factory=dict)
    services: list[dict[str, Any]] | None = None
    top_processes: list[dict[str, Any]] | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    command_acks: list[str] = field(default_factory=list)
    config_revision: int | None = None
    include_metrics: bool = True


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def build(gathered: Gathered, *, checkin: bool = False, now: float | None = None) -> dict[str, Any]:
    """The heartbeat body, validated with the shared contract (a bad value found here is a bug to
    log, not a heartbeat to send and have refused)."""
    now = time.time() if now is None else now
    status: dict[str, Any] = {}
    if not checkin:
        if gathered.include_metrics:
            status.update({k: v for k, v in gathered.metrics.items() if v is not None})
        if gathered.services is not None:
            status["services_status"] = [
                {"name": s["name"], "status": s["status"]} for s in gathered.services
            ]
        if gathered.top_processes is not None:
            status["top_processes"] = gathered.top_processes
    body: dict[str, Any] = {
        "asset_id": gathered.asset_id,
        "status": status,
        "alerts": [] if checkin else gathered.alerts,
        "logs": [] if checkin else gathered.logs,
        "message_id": str(uuid.uuid4()),
        "sent_at": _iso(now),
        "agent_version": lanet.__version__,
        "update_platform": package_platform(),
        "config_revision": gathered.config_revision,
        "command_acks": gathered.command_acks,
    }
    checked: dict[str, Any] = contract.drop_none(contract.validate("HeartbeatRequest", contract.scrub(body)))
    return checked


def with_dead_letters(body: dict[str, Any], dead_letters: list[DeadLetter]) -> dict[str, Any]:
    """``body`` as it is sent: with the dead letters not reported yet, attached when the heartbeat
    leaves (not when it was queued, so a backlog of heartbeats does not repeat them). A dead letter
    that does not fit the contract (written by another version of the agent) is left out rather
    than keeping the heartbeat from being sent."""
    listed = []
    for dead in dead_letters:
        entry = contract.drop_none(
            {
                "kind": "".join(
                    ch for ch in dead.kind.lower() if ch.isascii() and (ch.isalpha() or ch == "_")
                )[:32]
                or "unknown",
                "item_id": dead.id[:64],
                "status": dead.status if dead.status is not None and 400 <= dead.status <= 499 else None,
                "code": (dead.code or "")[:64] or None,
                "error": dead.error[:500],
                "refused_at": _iso(dead.refused_at),
            }
        )
        try:
            checked = contract.validate_field("HeartbeatRequest", "dead_letters", [contract.scrub(entry)])
        except contract.ContractError:
            continue
        listed.append(contract.drop_none(checked[0]))
    return {**body, "dead_letters": listed} if listed else body


class HeartbeatSource:
    """Gathers what a heartbeat is made of from the service's parts and queues it."""

    def __init__(
        self,
        config: Callable[[], Record],
        store: Store,
        sampler: collectors.MetricsSampler,
        monitor: Monitor,
        log_buffer: BackendBuffer,
        acks: Callable[[], list[str]],
    ) -> None:
        self._config = config
        self.store = store
        self.sampler = sampler
        self.monitor = monitor
        self.log_buffer = log_buffer
        self._acks = acks
        self._configure: Callable[[dict[str, Any]], None] = lambda _updates: None
        self._command: Callable[[dict[str, Any]], None] = lambda _command: None
        self._update: Callable[[dict[str, Any] | None], None] = lambda _offer: None
        self._scan: Callable[[], None] = lambda: None

    def on_answer(
        self,
        configure: Callable[[dict[str, Any]], None],
        command: Callable[[dict[str, Any]], None],
        update: Callable[[dict[str, Any] | None], None] = lambda _offer: None,
        scan: Callable[[], None] = lambda: None,
    ) -> None:
        """Where the answer's pushed configuration, commands, release offer and scan request go."""
        self._configure = configure
        self._command = command
        self._update = update
        self._scan = scan

    def answered(self, _payload: dict[str, Any], data: dict[str, Any], sent: dict[str, Any]) -> None:
        """The outbox's answer handler: dead letters reported, configuration applied, commands run.

        The commands are checked one by one by the executor, not with the answer: a command this
        agent cannot read (a newer server's type, say) is refused on its own and reported, and does
        not cost the answer's configuration or the other commands."""
        self.store.mark_reported([dead["item_id"] for dead in sent.get("dead_letters", [])])
        commands = data.get("commands") if isinstance(data, dict) else None
        envelope = {k: v for k, v in data.items() if k != "commands"} if isinstance(data, dict) else data
        try:
            reply = contract.Record(contract.validate("HeartbeatResponse", envelope))
        except contract.ContractError as exc:
            wire.warning("heartbeat reply has an unexpected shape, ignored: %s", exc.listed(5))
            return
        wire.info("heartbeat delivered; next at %s", reply.next_heartbeat)
        self.store.put("last_heartbeat", time.time())
        if reply.config_updates:
            self._configure(reply.config_updates)
        if reply.config_revision is not None:
            self.store.put("config_revision", reply.config_revision)
        self._update(envelope.get("update"))
        if reply.patch_scan:
            self._scan()
        if commands is not None and not isinstance(commands, list):
            wire.warning("heartbeat reply: commands is not a list, ignored")
            commands = None
        for command in commands or []:
            try:
                self._command(command)
            except Exception:  # one command never keeps the others from running
                wire.exception("a command in the heartbeat reply could not be taken")

    def gather(self, *, preview: bool) -> Gathered:
        """``preview`` changes nothing: alerts are evaluated on a copy of the monitor's state and
        the log buffer is only looked at."""
        cfg = self._config()
        metrics = self.sampler.sample()
        services = collectors.services() if cfg.monitoring.service_monitoring else None
        monitor = self.monitor.copy() if preview else self.monitor
        send_logs = cfg.heartbeat.include_logs and cfg.logging.send_to_backend
        return Gathered(
            asset_id=cfg.agent.asset_id,
            metrics=metrics,
            services=services,
            top_processes=collectors.top_processes(10) if cfg.monitoring.process_monitoring else None,
            alerts=monitor.evaluate(metrics, services, cfg.monitoring, cfg.alert_delays),
            logs=(self.log_buffer.peek() if preview else self.log_buffer.drain()) if send_logs else [],
            command_acks=self._acks(),
            config_revision=self.store.get("config_revision"),
            include_metrics=cfg.heartbeat.include_metrics,
        )

    def preview(self) -> dict[str, Any]:
        return build(self.gather(preview=True))

    def queue(self, outbox: Outbox, *, checkin: bool = False) -> dict[str, Any]:
        """Gather, build and queue the next heartbeat (a check-in when heartbeats are off)."""
        if checkin:
            gathered = Gathered(
                asset_id=self._config().agent.asset_id,
                command_acks=self._acks(),
                config_revision=self.store.get("config_revision"),
            )
            body = build(gathered, checkin=True)
        else:
            gathered = self.gather(preview=False)
            body = build(gathered)
            if gathered.alerts:
                self.store.put("monitor_open", self.monitor.open)
        outbox.put("heartbeat", body["message_id"], body)
        self.store.put("heartbeats_queued", int(self.store.get("heartbeats_queued", 0)) + 1)
        return body

    def as_sent(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The outbox's body for a queued heartbeat: with the dead letters not yet reported."""
        return with_dead_letters(
            payload, self.store.dead_letters(unreported=True, limit=DEAD_LETTERS_PER_HEARTBEAT)
        )
