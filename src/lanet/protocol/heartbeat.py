"""Heartbeat: ``POST /agents/heartbeat`` and its answer.

The request carries the seed's "System Metrics" in ``status``; every metric is optional because
``heartbeat.include_metrics`` may be off and because an OS may not answer some of them.
"""

from typing import Annotated, Any, Literal

from pydantic import Field

from lanet.protocol.common import (
    Count,
    NonNegativeFloat,
    NonNegativeInt,
    Percent,
    Timestamp,
    UUIDStr,
    WireModel,
    short_text,
)
from lanet.protocol.registration import LogLevel, ServiceState
from lanet.protocol.releases import UpdateOffer
from lanet.protocol.values import CommandPriority as Priority
from lanet.protocol.values import CommandType, ReleasePlatform

MAX_ALERTS = 200
MAX_LOGS = 200
#: Characters of one log line (the agent cuts longer ones).
MAX_LOG_MESSAGE = 4000
MAX_SERVICES_STATUS = 5000


class ServiceStatus(WireModel):
    name: str = Field(min_length=1, max_length=255)
    status: ServiceState


class ProcessInfo(WireModel):
    """One of the top processes, sent when ``monitoring.process_monitoring`` is on."""

    pid: Count
    name: str = Field(max_length=255)
    cpu_percent: NonNegativeFloat | None = None
    memory_percent: Percent | None = None
    memory_rss: NonNegativeInt | None = None
    username: str | None = short_text(255)


class DiskUsage(WireModel):
    mount: str = Field(max_length=512)
    total: NonNegativeInt
    used: NonNegativeInt
    percent: Percent


class SystemStatus(WireModel):
    """The seed's "System Metrics", plus the services' states."""

    cpu_usage: Percent | None = None
    memory_usage: Percent | None = None
    disk_usage: Percent | None = Field(default=None, description="Fullest fixed disk, percent used")
    network_usage: NonNegativeFloat | None = Field(default=None, description="Mbps, in plus out")
    uptime: NonNegativeInt | None = Field(default=None, description="Seconds since boot")
    last_boot: Timestamp | None = None
    temperature: Annotated[float, Field(ge=-50, le=200, allow_inf_nan=False)] | None = Field(
        default=None, description="CPU temperature in °C, when available"
    )
    processes_count: Count | None = None
    threads_count: Count | None = None
    services_status: list[ServiceStatus] = Field(default_factory=list, max_length=MAX_SERVICES_STATUS)
    disks: list[DiskUsage] | None = Field(default=None, max_length=64)
    top_processes: list[ProcessInfo] | None = Field(default=None, max_length=50)


class Alert(WireModel):
    """A threshold crossed (``state: open``) or cleared (``state: resolved``) on the agent.

    The agent sends an alert once when it opens and once when it resolves; the server keeps one open
    alert per asset, type and resource.
    """

    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    severity: Literal["info", "warning", "critical"] = "warning"
    message: str = Field(min_length=1, max_length=2000)
    threshold: Annotated[float, Field(allow_inf_nan=False)] | None = None
    current_value: Annotated[float, Field(allow_inf_nan=False)] | None = None
    resource: str | None = Field(
        default=None, max_length=255, description="What the alert is about, e.g. 'C:' or a service name"
    )
    state: Literal["open", "resolved"] = "open"


class LogRecord(WireModel):
    timestamp: Timestamp
    level: LogLevel
    message: str = Field(max_length=MAX_LOG_MESSAGE)
    logger: str | None = short_text(128)


MAX_DEAD_LETTERS = 50


class DeadLetter(WireModel):
    """An item of the agent's outbox that the server refused (a 4xx): kept on the agent, reported once
    so a technician sees it among the agent's logs instead of it vanishing."""

    kind: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    item_id: str = Field(min_length=1, max_length=64)
    status: Annotated[int, Field(ge=400, le=499)] | None = None
    code: str | None = short_text(64)
    error: str = Field(default="", max_length=500)
    refused_at: Timestamp


class HeartbeatRequest(WireModel):
    """Body of ``POST /agents/heartbeat``.

    ``message_id`` (ours) is made by the agent once per heartbeat and kept across retries, so a
    heartbeat replayed from the outbox is stored once. ``config_revision`` says which pushed
    configuration the agent has applied; the server stops sending what is applied.
    """

    asset_id: UUIDStr
    status: SystemStatus = Field(default_factory=SystemStatus)
    alerts: list[Alert] = Field(default_factory=list, max_length=MAX_ALERTS)
    logs: list[LogRecord] = Field(default_factory=list, max_length=MAX_LOGS)
    message_id: UUIDStr | None = None
    sent_at: Timestamp | None = None
    agent_version: str | None = short_text(32)
    config_revision: Count | None = None
    command_acks: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=500,
        description="Commands the agent has recorded in its ledger: the server stops offering them",
    )
    dead_letters: list[DeadLetter] = Field(
        default_factory=list,
        max_length=MAX_DEAD_LETTERS,
        description="Outbox items the server refused since the last heartbeat (stored as agent logs)",
    )
    update_platform: ReleasePlatform | None = Field(
        default=None,
        description="The package this agent was installed from; absent when it cannot update itself",
    )


class Command(WireModel):
    """A remote command for the agent, as the seed's heartbeat answer shows it."""

    command_id: str = Field(min_length=1, max_length=64)
    type: CommandType
    script: str = Field(max_length=1_000_000)
    timeout: Annotated[int, Field(ge=1, le=86_400)] = 300
    priority: Priority = "normal"
    arguments: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list, max_length=64)
    expires_at: Timestamp | None = None


class HeartbeatResponse(WireModel):
    """``data`` of the 200 answer."""

    received_at: Timestamp
    next_heartbeat: Timestamp
    commands: list[Command] = Field(default_factory=list)
    config_updates: dict[str, Any] = Field(
        default_factory=dict, description="Flat keys of ConfigUpdates; empty when nothing changed"
    )
    config_revision: Count | None = Field(
        default=None, description="Echo this in the next heartbeat once config_updates are applied"
    )
    update: UpdateOffer | None = Field(default=None, description="A signed release this agent should install")
    patch_scan: bool = Field(default=False, description="A technician asked for an OS update scan now")
