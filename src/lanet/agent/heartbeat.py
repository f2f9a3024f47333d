"""What a heartbeat carries, built from what the service gathered: a pure function, so
``lanet-agent collect`` shows exactly the next heartbeat without sending, storing or draining
anything (:meth:`lanet.agent.core.Agent.preview_heartbeat`).

A *check-in* is the heartbeat of an agent whose heartbeat is switched off (``heartbeat.enabled:
false``): no metrics, alerts or logs, only what keeps the server able to reach the agent (pushed
configuration, commands, acknowledgements). No pushed value may cut the server off from an agent:
configuration only travels in heartbeat answers, so without check-ins ``heartbeat_enabled=false``
could never be undone remotely.
"""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import lanet
from lanet.agent.store import DeadLetter
from lanet.protocol import contract

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
