"""Every limit a request model accepts is a limit the storage holds.

The test walks every field of every request body the API declares, down to the leaves, and checks
each against where it is stored: a typed column (integer range, text length), a JSON column (bounded
numbers, bounded text), or nowhere (used and dropped). A new field fails here until its storage is
named below, so a model can never again accept what a column refuses (a Windows exit code once met a
32-bit column on PostgreSQL and silenced its agent).
"""

import types
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy import BigInteger, Column, Float, Integer, String, Text

from lanet.protocol.common import INT32_MAX
from lanet.protocol.limits import INT64_MAX, INT64_MIN, check_free_json
from lanet.protocol.patches import AutoUpdateState, PatchItem, PatchReboot, PatchScriptRun
from lanet.server.api.operations import ApiBlueprint
from lanet.server.blueprints import admin, agents, meta, releases, tickets
from lanet.server.models import (
    AgentLog,
    Alert,
    Asset,
    AssetPatch,
    AssetService,
    AssetSoftware,
    AssetUpdate,
    Command,
    ConfigOverride,
    MetricSample,
    PatchEvent,
    PatchReportRecord,
    PatchScanRecord,
    Rollout,
    Ticket,
    TicketComment,
)
from lanet.server.models.base import table_of

INT32_MIN = -(2**31)
#: Integers kept inside JSON must survive every JSON reader (JavaScript's doubles).
JSON_SAFE_INT = 2**53


def col(model: Any, name: str) -> Column[Any]:
    column: Column[Any] = table_of(model).c[name]
    return column


JSON = "json"
DROPPED = "dropped"
FORMATTED = "formatted into a text column (agent_logs.message), cut to its length"

#: Where each leaf of each request body ends up. Keys are ``Model.field`` (``[]`` for list items).
STORAGE: dict[str, Any] = {
    # Registration and inventory.
    "RegisterRequest.token": DROPPED,  # compared as a digest, never stored
    "RegisterRequest.agent_version": col(Asset, "agent_version"),
    "RegisterRequest.identity_secret": DROPPED,  # stored as its digest (64 hex characters)
    "HardwareInfo.computer_name": col(Asset, "computer_name"),
    "HardwareInfo.os": col(Asset, "os"),
    "HardwareInfo.os_version": col(Asset, "os_version"),
    "HardwareInfo.ip_address": col(Asset, "ip_address"),
    "HardwareInfo.assigned_user": col(Asset, "assigned_user"),
    **{
        f"HardwareInfo.{name}": JSON
        for name in (
            "cpu",
            "cpu_cores",
            "cpu_threads",
            "ram",
            "disk",
            "mac_address",
            "domain",
            "serial_number",
            "motherboard",
            "bios_version",
            "department",
            "estimated_value",
            "warranty_expires",
            "machine_id",
        )
    },
    "HardwareInfo.installed_software": DROPPED,  # the list itself: its items are rows
    "HardwareInfo.services": DROPPED,
    **{
        f"InstalledSoftware.{n}": col(AssetSoftware, n)
        for n in ("name", "version", "publisher", "install_date", "size")
    },
    **{
        f"ServiceInfo.{n}": col(AssetService, n)
        for n in ("name", "display_name", "status", "startup", "description")
    },
    **{
        f"UpdatesInfo.{n}": JSON
        for n in (
            "last_check",
            "pending_count",
            "last_install",
            "auto_update_enabled",
            "pending",
            "pending[]",
        )
    },
    "RefreshRequest.asset_id": DROPPED,
    "RefreshRequest.refresh_token": DROPPED,
    "RefreshRequest.identity_secret": DROPPED,
    "InventoryUpload.asset_id": DROPPED,
    # Self-update: an agent's reports, a technician's rollouts.
    "UpdateReport.asset_id": DROPPED,  # checked against the JWT
    "UpdateReport.report_id": col(AssetUpdate, "last_report_id"),
    "UpdateReport.version": DROPPED,  # looked up among the releases
    "UpdateReport.state": col(AssetUpdate, "state"),
    "UpdateReport.reason": col(AssetUpdate, "reason"),
    "UpdateReport.running_version": col(AssetUpdate, "from_version"),
    "UpdateReport.at": col(AssetUpdate, "updated_at"),
    "RolloutRequest.percent": col(Rollout, "percent"),
    "RolloutRequest.client": DROPPED,  # looked up by name
    "RolloutRequest.site": DROPPED,
    "RolloutRequest.now": col(Rollout, "now"),
    "RolloutRequest.failure_threshold": col(Rollout, "failure_threshold"),
    "PauseRequest.reason": col(Rollout, "paused_reason"),
    # Heartbeat.
    "HeartbeatRequest.asset_id": DROPPED,
    # The last REPLAY_WINDOW ids, joined: the column holds that many of the longest id.
    "HeartbeatRequest.message_id": col(Asset, "recent_messages"),
    "HeartbeatRequest.sent_at": col(MetricSample, "sampled_at"),
    "HeartbeatRequest.agent_version": col(Asset, "agent_version"),
    "HeartbeatRequest.config_revision": col(Asset, "config_revision_applied"),
    "HeartbeatRequest.update_platform": col(Asset, "update_platform"),
    "PatchScan.asset_id": DROPPED,  # checked against the JWT
    "PatchScan.scan_id": col(PatchScanRecord, "scan_id"),
    "PatchScan.scanned_at": col(PatchScanRecord, "scanned_at"),
    "PatchScan.source": col(PatchScanRecord, "source"),
    "PatchScan.items": DROPPED,  # the list itself: its items are rows
    "PatchScan.reboot_pending": col(PatchScanRecord, "reboot_pending"),
    "PatchScan.reboot_sources": col(PatchScanRecord, "reboot_sources"),
    "PatchScan.reboot_sources[]": JSON,
    "PatchScan.error": col(PatchScanRecord, "error"),
    "PatchScan.duration_ms": col(PatchScanRecord, "duration_ms"),
    "PatchScan.auto_update": col(PatchScanRecord, "auto_update"),
    **{f"AutoUpdateState.{n}": JSON for n in AutoUpdateState.model_fields},
    **{f"PatchItem.{n}": col(AssetPatch, n) for n in PatchItem.model_fields},  # one column each
    "PatchItem.kb[]": JSON,
    "PatchReport.asset_id": DROPPED,  # checked against the JWT
    "PatchReport.report_id": col(PatchReportRecord, "report_id"),
    "PatchReport.at": col(PatchReportRecord, "at"),
    "PatchReport.plan_revision": col(PatchReportRecord, "plan_revision"),
    "PatchReport.results": col(PatchReportRecord, "results"),
    "PatchReport.dry_run": col(PatchReportRecord, "dry_run"),
    "PatchReport.reboot_pending": col(PatchReportRecord, "reboot_pending"),
    # Each result: in the report's JSON, and on the asset's update and its event.
    "PatchResult.update_id": col(PatchEvent, "update_id"),
    "PatchResult.state": col(AssetPatch, "state"),
    "PatchResult.reason": col(PatchEvent, "reason"),
    "PatchResult.error_code": JSON,
    "PatchResult.installed_version": col(AssetPatch, "current_version"),
    # A reboot step: kept whole in the report's JSON, audited from there.
    **{f"PatchReboot.{n}": JSON for n in PatchReboot.model_fields},
    "PatchReport.scripts": col(PatchReportRecord, "scripts"),
    **{f"PatchScriptRun.{n}": JSON for n in PatchScriptRun.model_fields},
    "HeartbeatRequest.alerts": DROPPED,
    "HeartbeatRequest.logs": DROPPED,
    "HeartbeatRequest.command_acks": DROPPED,
    "HeartbeatRequest.command_acks[]": DROPPED,  # looked up, never written
    "HeartbeatRequest.dead_letters": DROPPED,
    **{f"DeadLetter.{n}": FORMATTED for n in ("kind", "item_id", "status", "code", "error")},
    "DeadLetter.refused_at": col(AgentLog, "logged_at"),
    **{
        f"SystemStatus.{n}": col(MetricSample, n)
        for n in (
            "cpu_usage",
            "memory_usage",
            "disk_usage",
            "network_usage",
            "uptime",
            "temperature",
            "processes_count",
            "threads_count",
        )
    },
    "SystemStatus.last_boot": col(Asset, "last_boot"),
    "SystemStatus.services_status": JSON,
    "ServiceStatus.name": JSON,
    "ServiceStatus.status": JSON,
    "SystemStatus.disks": JSON,
    **{f"DiskUsage.{n}": JSON for n in ("mount", "total", "used", "percent")},
    "SystemStatus.top_processes": JSON,
    **{
        f"ProcessInfo.{n}": JSON
        for n in ("pid", "name", "cpu_percent", "memory_percent", "memory_rss", "username")
    },
    **{
        f"Alert.{n}": col(Alert, n)
        for n in ("type", "severity", "message", "threshold", "current_value", "resource")
    },
    "Alert.state": DROPPED,
    "LogRecord.timestamp": col(AgentLog, "logged_at"),
    "LogRecord.level": col(AgentLog, "level"),
    "LogRecord.message": col(AgentLog, "message"),
    "LogRecord.logger": col(AgentLog, "logger"),
    # Command results.
    "CommandResult.command_id": DROPPED,  # looked up, never written
    **{
        f"CommandResult.{n}": col(Command, n)
        for n in (
            "status",
            "exit_code",
            "stdout",
            "stderr",
            "stdout_truncated",
            "stderr_truncated",
            "started_at",
            "finished_at",
            "reason",
        )
    },
    # Tickets.
    "TicketFromAgent.description": col(Ticket, "description"),
    "TicketFromAgent.category": col(Ticket, "category"),
    "TicketFromAgent.priority": col(Ticket, "priority"),
    "TicketFromAgent.channel": col(Ticket, "channel"),
    "TicketFromAgent.auto_info": col(Ticket, "auto_info"),
    "TicketFromAgent.asset_id": col(Ticket, "asset_id"),
    "TicketFromAgent.client_id": col(Ticket, "client_id"),
    "TicketFromAgent.site_id": col(Ticket, "site_id"),
    "TicketFromAgent.created_by_agent": col(Ticket, "created_by_agent"),
    "TicketFromAgent.subject": col(Ticket, "subject"),
    "TicketFromAgent.reporter_name": col(Ticket, "reporter_name"),
    "TicketFromAgent.reporter_account": col(Ticket, "reporter_account"),
    "TicketFromAgent.screenshot_png_base64": DROPPED,  # decoded into an attachment, bounded in bytes
    "TicketFromAgent.client_ticket_id": col(Ticket, "client_ticket_id"),
    "CommentRequest.body": col(TicketComment, "body"),
    "CommentRequest.author_name": col(TicketComment, "author"),
    "RatingRequest.rating": col(Ticket, "rating"),
    "RatingRequest.comment": col(Ticket, "rating_comment"),
    # Technicians' API.
    "QueueCommand.asset_id": DROPPED,  # looked up; the asset's own id is written
    "QueueCommand.type": col(Command, "type"),
    "QueueCommand.script": col(Command, "script"),
    "QueueCommand.arguments": col(Command, "arguments"),
    "QueueCommand.arguments[]": JSON,
    "QueueCommand.timeout": col(Command, "timeout"),
    "QueueCommand.priority": col(Command, "priority"),
    "QueueCommand.expires_minutes": DROPPED,  # turned into a timestamp
    "ConfigChangeRequest.scope": DROPPED,
    "ConfigChangeRequest.id": DROPPED,  # looked up, not stored
    "ConfigChangeRequest.key": col(ConfigOverride, "key"),
    "ConfigChangeRequest.value": col(ConfigOverride, "value"),
    "AssignRequest.technician": col(Ticket, "assigned_to"),
    "StatusRequest.status": col(Ticket, "status"),
    "TechnicianComment.body": col(TicketComment, "body"),
    "TechnicianComment.public": col(TicketComment, "public"),
    "TechnicianComment.author": col(TicketComment, "author"),
}


def _metadata(extra: list[Any]) -> list[Any]:
    found: list[Any] = []
    for item in extra:
        found.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return found


def leaves(
    model: type[BaseModel], seen: frozenset[type[BaseModel]] = frozenset()
) -> Iterator[tuple[str, Any, list[Any]]]:
    """(``Model.field``, leaf type, constraints) for every leaf reachable from ``model``."""
    for name, field in model.model_fields.items():
        yield from _walk(field.annotation, list(field.metadata), f"{model.__name__}.{name}", seen | {model})


def _walk(
    tp: Any, meta: list[Any], path: str, seen: frozenset[type[BaseModel]]
) -> Iterator[tuple[str, Any, list[Any]]]:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        yield from _walk(base, meta + _metadata(extra), path, seen)
    elif origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is not type(None):
                yield from _walk(arg, meta, path, seen)
    elif origin is list:
        yield path, list, meta
        yield from _walk(get_args(tp)[0], [], path + "[]", seen)
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp not in seen:
            yield from leaves(tp, seen)
    else:
        yield path, tp, meta


def _bound(meta: list[Any], kind: type) -> Any:
    for item in meta:
        if isinstance(item, kind):
            return item
    return None


def request_models() -> list[type[BaseModel]]:
    found = []
    for bp in (admin.bp, agents.bp, meta.bp, releases.bp, tickets.bp):
        assert isinstance(bp, ApiBlueprint)
        found += [op.body for op in bp.operations if op.body is not None]
    return found


def _cases() -> list[tuple[str, Any, tuple[Any, ...]]]:
    unique: dict[str, tuple[str, Any, tuple[Any, ...]]] = {}
    for model in request_models():
        for path, tp, constraints in leaves(model):
            unique.setdefault(f"{path}:{tp!r}", (path, tp, tuple(constraints)))
    return sorted(unique.values(), key=lambda case: case[0])


CASES = _cases()


def test_every_request_field_has_its_storage_named() -> None:
    unnamed = sorted({path for path, _tp, _meta in CASES} - set(STORAGE))
    assert unnamed == [], f"name the storage of: {unnamed}"


@pytest.mark.parametrize(("path", "tp", "meta"), CASES, ids=[c[0] for c in CASES])
def test_the_field_fits_where_it_is_stored(path: str, tp: Any, meta: tuple[Any, ...]) -> None:
    where = STORAGE[path]
    ge, le = _bound(list(meta), annotated_types.Ge), _bound(list(meta), annotated_types.Le)
    max_len = _bound(list(meta), annotated_types.MaxLen)
    if tp is int:
        assert ge is not None and le is not None, f"{path}: an integer needs both bounds"
        if where == JSON:
            assert ge.ge >= -JSON_SAFE_INT and le.le <= JSON_SAFE_INT, path
        elif isinstance(where, Column) and isinstance(where.type, BigInteger):
            assert ge.ge >= INT64_MIN and le.le <= INT64_MAX, path
        elif isinstance(where, Column):
            assert isinstance(where.type, Integer), f"{path} is stored in {where.type}"
            assert ge.ge >= INT32_MIN and le.le <= INT32_MAX, f"{path}: {ge.ge}..{le.le} beyond {where}"
    elif tp is float:
        refuses_nan = any(type(item).__name__ == "AllowInfNan" and not item.allow_inf_nan for item in meta)
        assert refuses_nan, f"{path}: NaN and Infinity must be refused"
        if isinstance(where, Column):
            assert isinstance(where.type, Float), path
    elif tp is str:
        bounded_pattern = any(  # an anchored pattern of fixed width, such as a MAC address
            str(getattr(item, "pattern", "")).endswith("}$") for item in meta
        )
        assert max_len is not None or bounded_pattern, f"{path}: text needs a maximum length"
        if isinstance(where, Column) and isinstance(where.type, String) and not isinstance(where.type, Text):
            assert max_len is not None, f"{path}: stored in {where}, so it needs max_length"
            limit = max_len.max_length
            assert where.type.length is not None and limit <= where.type.length, (
                f"{path}: up to {limit} characters into {where}"
            )
    elif tp is list:
        assert max_len is not None, f"{path}: a list needs a maximum length"
    elif tp is datetime:
        assert any(isinstance(item, AfterValidator) for item in meta), f"{path}: not a Timestamp"
    elif get_origin(tp) is Literal:
        if isinstance(where, Column) and isinstance(where.type, String):
            longest = max(len(str(value)) for value in get_args(tp))
            assert where.type.length is None or longest <= where.type.length, path
    elif tp is dict or get_origin(tp) is dict or tp is Any:
        assert any(isinstance(item, AfterValidator) and item.func is check_free_json for item in meta), (
            f"{path}: free-form JSON must be bounded (FreeJson)"
        )
    elif tp is bool:
        pass
    else:
        pytest.fail(f"{path}: no rule for {tp!r}")
