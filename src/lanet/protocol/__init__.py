"""The wire contract shared by the agent and the server.

Everything that crosses the network between ``lanet-agent`` and ``lanet-server`` is declared here, once,
as pydantic v2 models. Both halves import this package and nothing else of each other, so a change of
shape is a change in one place, visible to both test suites.

The names below load their module on first use: the agent's service imports only the plain modules
(:mod:`~lanet.protocol.contract`, :mod:`~lanet.protocol.limits`, :mod:`~lanet.protocol.config_keys`,
:mod:`~lanet.protocol.errors`) and must not pay for pydantic by importing this package.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY: dict[str, str] = {
    "AGENT_JWT_LIFETIME": "lanet.protocol.claims",
    "AgentClaims": "lanet.protocol.claims",
    "AgentConfig": "lanet.protocol.agent_config",
    "Alert": "lanet.protocol.heartbeat",
    "Command": "lanet.protocol.heartbeat",
    "ConfigUpdates": "lanet.protocol.config_updates",
    "ErrorCode": "lanet.protocol.errors",
    "ErrorDetail": "lanet.protocol.common",
    "ErrorEnvelope": "lanet.protocol.common",
    "HardwareInfo": "lanet.protocol.registration",
    "HeartbeatRequest": "lanet.protocol.heartbeat",
    "HeartbeatResponse": "lanet.protocol.heartbeat",
    "InstalledSoftware": "lanet.protocol.registration",
    "LogRecord": "lanet.protocol.heartbeat",
    "RegisterRequest": "lanet.protocol.registration",
    "RegisterResponse": "lanet.protocol.registration",
    "RegistrationConfig": "lanet.protocol.registration",
    "ServiceInfo": "lanet.protocol.registration",
    "ServiceStatus": "lanet.protocol.heartbeat",
    "SystemStatus": "lanet.protocol.heartbeat",
    "TOKEN_PATTERN": "lanet.protocol.tokens",
    "TicketFromAgent": "lanet.protocol.tickets",
    "UpdatesInfo": "lanet.protocol.registration",
    "success_envelope": "lanet.protocol.common",
    "validate_token_format": "lanet.protocol.tokens",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
