"""Remote commands: queued by a technician, offered in heartbeat replies until the agent records them,
reported back once through the agent's outbox. Every step is audited.

Delivery is at least once (re-offered until acknowledged) and the agent's ledger makes execution at
most once, so a command runs exactly once or is reported as ``interrupted`` / ``refused``.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lanet.protocol.commands import FINAL_STATUSES, CommandResult
from lanet.protocol.heartbeat import Command as CommandMessage
from lanet.protocol.values import SCRIPT_TYPES
from lanet.server.models import Asset, Command
from lanet.server.models.base import utcnow
from lanet.server.models.commands import PENDING, PRIORITY_ORDER
from lanet.server.services import audit

COMMAND_TYPES = SCRIPT_TYPES
DEFAULT_EXPIRY = timedelta(hours=24)
MAX_SCRIPT_CHARS = 1_000_000


class CommandError(ValueError):
    """A command that cannot be queued; the message says why."""


def _digest(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()


def queue_command(
    session: Session,
    *,
    asset_id: str,
    type_: str,
    script: str,
    actor: str,
    timeout: int = 300,
    priority: str = "normal",
    arguments: list[str] | None = None,
    expires_in: timedelta = DEFAULT_EXPIRY,
) -> Command:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.retired_at is not None:
        raise CommandError(f"no asset with id {asset_id!r}")
    if type_ not in COMMAND_TYPES:
        raise CommandError(f"type must be one of {', '.join(COMMAND_TYPES)}, not {type_!r}")
    if priority not in PRIORITY_ORDER:
        raise CommandError(f"priority must be low, normal or high, not {priority!r}")
    if not 1 <= timeout <= 86_400:
        raise CommandError("timeout must be between 1 and 86400 seconds")
    if not script.strip():
        raise CommandError("the script is empty")
    if len(script) > MAX_SCRIPT_CHARS:
        raise CommandError(f"the script is longer than {MAX_SCRIPT_CHARS} characters")
    if expires_in <= timedelta(0):
        raise CommandError("the expiry must be in the future")
    now = utcnow()
    command = Command(
        asset_id=asset.id,
        client_id=asset.client_id,
        type=type_,
        script=script,
        arguments=list(arguments or []),
        timeout=timeout,
        priority=priority,
        priority_rank=PRIORITY_ORDER[priority],
        queued_by=actor,
        queued_at=now,
        expires_at=now + expires_in,
    )
    session.add(command)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="command.queue",
        target_type="command",
        target_id=command.id,
        client_id=asset.client_id,
        details={
            "asset_id": asset.id,
            "type": type_,
            "script_sha256": _digest(script),
            "script_chars": len(script),
            "timeout": timeout,
            "priority": priority,
            "expires_at": command.expires_at.isoformat(),
        },
    )
    return command


def acknowledge(session: Session, asset_id: str, command_ids: list[str], now: datetime) -> None:
    """The agent recorded these in its ledger: stop offering them."""
    session.execute(
        update(Command)
        .where(Command.asset_id == asset_id, Command.id.in_(command_ids[:500]), Command.status.in_(PENDING))
        .values(status="running", acknowledged_at=now)
    )


def deliver(session: Session, asset_id: str, now: datetime) -> list[CommandMessage]:
    """The commands to offer in this heartbeat reply, high priority first; expired ones are closed."""
    pending = session.scalars(
        select(Command)
        .where(Command.asset_id == asset_id, Command.status.in_(PENDING))
        .order_by(Command.priority_rank, Command.queued_at)
    ).all()
    offered = []
    for command in pending:
        if command.expires_at <= now:
            _expire(session, command, now)
            continue
        if command.status == "queued":
            command.status = "delivered"
            command.delivered_at = now
            audit.record(
                session,
                actor=f"agent:{asset_id}",
                action="command.deliver",
                target_type="command",
                target_id=command.id,
                client_id=command.client_id,
                details={"type": command.type, "script_sha256": _digest(command.script)},
            )
        offered.append(
            CommandMessage.model_validate(
                {
                    "command_id": command.id,
                    "type": command.type,
                    "script": command.script,
                    "timeout": command.timeout,
                    "priority": command.priority,
                    "arguments": list(command.arguments or []),
                    "expires_at": command.expires_at,
                }
            )
        )
    return offered


def _expire(session: Session, command: Command, now: datetime) -> None:
    command.status = "expired"
    command.finished_at = now
    command.reason = "expired before the agent received it"
    audit.record(
        session,
        actor="system",
        action="command.expire",
        target_type="command",
        target_id=command.id,
        client_id=command.client_id,
        outcome="expired",
    )


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    """Close queued commands whose asset never came back before the expiry (maintenance)."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Command).where(Command.status.in_(PENDING), Command.expires_at <= now)
    ).all()
    for command in overdue:
        _expire(session, command, now)
    return len(overdue)


@dataclass(frozen=True)
class Recorded:
    command: Command
    duplicate: bool


def record_result(session: Session, asset_id: str, result: CommandResult) -> Recorded | None:
    """Store a result; None when the command is not this asset's. A repeat changes nothing, even
    when it arrives at the same time as the first (the row is locked while it is decided)."""
    command = session.get(Command, result.command_id, with_for_update=True)
    if command is None or command.asset_id != asset_id:
        return None
    if command.status in FINAL_STATUSES and command.result_at is not None:
        return Recorded(command, duplicate=True)
    now = utcnow()
    command.status = result.status
    command.exit_code = result.exit_code
    command.stdout = result.stdout
    command.stderr = result.stderr
    command.stdout_truncated = result.stdout_truncated
    command.stderr_truncated = result.stderr_truncated
    command.started_at = result.started_at
    command.finished_at = result.finished_at or now
    command.result_at = now
    command.reason = result.reason
    audit.record(
        session,
        actor=f"agent:{asset_id}",
        action="command.result",
        target_type="command",
        target_id=command.id,
        client_id=command.client_id,
        outcome=result.status,
        details={
            "exit_code": result.exit_code,
            "reason": result.reason,
            "stdout_chars": len(result.stdout),
            "stderr_chars": len(result.stderr),
            "truncated": result.stdout_truncated or result.stderr_truncated,
        },
    )
    return Recorded(command, duplicate=False)


def describe(command: Command) -> dict[str, Any]:
    return {
        "command_id": command.id,
        "asset_id": command.asset_id,
        "type": command.type,
        "status": command.status,
        "priority": command.priority,
        "timeout": command.timeout,
        "queued_by": command.queued_by,
        "queued_at": command.queued_at,
        "expires_at": command.expires_at,
        "delivered_at": command.delivered_at,
        "started_at": command.started_at,
        "finished_at": command.finished_at,
        "exit_code": command.exit_code,
        "stdout": command.stdout,
        "stderr": command.stderr,
        "stdout_truncated": command.stdout_truncated,
        "stderr_truncated": command.stderr_truncated,
        "reason": command.reason,
    }


def recent_for_asset(session: Session, asset_id: str, limit: int = 20) -> list[Command]:
    """The asset's latest commands, newest first."""
    return list(
        session.scalars(
            select(Command)
            .where(Command.asset_id == asset_id)
            .order_by(Command.queued_at.desc())
            .limit(limit)
        )
    )
