"""SQLAlchemy 2 typed models. Table names follow the seed's backend (``clients``, ``sites``,
``agent_installation_tokens``, ``agent_token_usage_history``, ``assets``)."""

from lanet.server.models.apikeys import ApiKey
from lanet.server.models.assets import AgentLog, Alert, Asset, AssetService, AssetSoftware, MetricSample
from lanet.server.models.audit import AuditEntry
from lanet.server.models.base import Base
from lanet.server.models.commands import Command
from lanet.server.models.config import ConfigChange, ConfigOverride
from lanet.server.models.patches import (
    AssetPatch,
    PatchDecision,
    PatchEvent,
    PatchPolicy,
    PatchPostponement,
    PatchReportRecord,
    PatchScanRecord,
    PatchScanRequest,
)
from lanet.server.models.ratelimit import RateLimitBucket
from lanet.server.models.releases import AssetUpdate, Release, Rollout
from lanet.server.models.tenancy import Client, Site
from lanet.server.models.tickets import Ticket, TicketAttachment, TicketComment, TicketCounter, TicketEvent
from lanet.server.models.timeseries import (
    DiskForecast,
    DiskRollup1h,
    DiskRollup5m,
    MetricRollup1h,
    MetricRollup5m,
    TimeseriesMark,
)
from lanet.server.models.tokens import InstallToken, TokenUsage
from lanet.server.models.users import PortalSession, UnknownLogin, User

__all__ = [
    "AgentLog",
    "Alert",
    "ApiKey",
    "Asset",
    "AssetPatch",
    "AssetService",
    "AssetSoftware",
    "AssetUpdate",
    "AuditEntry",
    "Base",
    "Client",
    "Command",
    "ConfigChange",
    "ConfigOverride",
    "DiskForecast",
    "DiskRollup1h",
    "DiskRollup5m",
    "InstallToken",
    "MetricRollup1h",
    "MetricRollup5m",
    "MetricSample",
    "PatchDecision",
    "PatchEvent",
    "PatchPolicy",
    "PatchPostponement",
    "PatchReportRecord",
    "PatchScanRecord",
    "PatchScanRequest",
    "PortalSession",
    "RateLimitBucket",
    "Release",
    "Rollout",
    "Site",
    "Ticket",
    "TicketAttachment",
    "TicketComment",
    "TicketCounter",
    "TicketEvent",
    "TimeseriesMark",
    "TokenUsage",
    "UnknownLogin",
    "User",
]
