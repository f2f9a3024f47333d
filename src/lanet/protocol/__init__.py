"""The wire contract shared by the agent and the server.

Everything that crosses the network between ``lanet-agent`` and ``lanet-server`` is declared here, once,
as pydantic v2 models. Both halves import this package and nothing else of each other, so a change of
shape is a change in one place, visible to both test suites.
"""

from lanet.protocol.agent_config import AgentConfig
from lanet.protocol.claims import AGENT_JWT_LIFETIME, AgentClaims
from lanet.protocol.common import ErrorDetail, ErrorEnvelope, success_envelope
from lanet.protocol.config_updates import ConfigUpdates
from lanet.protocol.errors import ErrorCode
from lanet.protocol.heartbeat import (
    Alert,
    Command,
    HeartbeatRequest,
    HeartbeatResponse,
    LogRecord,
    ServiceStatus,
    SystemStatus,
)
from lanet.protocol.registration import (
    HardwareInfo,
    InstalledSoftware,
    RegisterRequest,
    RegisterResponse,
    RegistrationConfig,
    ServiceInfo,
    UpdatesInfo,
)
from lanet.protocol.tickets import TicketFromAgent
from lanet.protocol.tokens import TOKEN_PATTERN, validate_token_format

__all__ = [
    "AGENT_JWT_LIFETIME",
    "TOKEN_PATTERN",
    "AgentClaims",
    "AgentConfig",
    "Alert",
    "Command",
    "ConfigUpdates",
    "ErrorCode",
    "ErrorDetail",
    "ErrorEnvelope",
    "HardwareInfo",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "InstalledSoftware",
    "LogRecord",
    "RegisterRequest",
    "RegisterResponse",
    "RegistrationConfig",
    "ServiceInfo",
    "ServiceStatus",
    "SystemStatus",
    "TicketFromAgent",
    "UpdatesInfo",
    "success_envelope",
    "validate_token_format",
]
