"""The seed's JSON examples, copied verbatim into tests/fixtures, parse with the protocol models, and
the models cover every field the seed's structure sections name."""

from typing import Any

import pytest
from pydantic import BaseModel

from lanet.protocol import (
    AgentClaims,
    AgentConfig,
    ConfigUpdates,
    HardwareInfo,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterRequest,
    RegisterResponse,
    SystemStatus,
)
from lanet.protocol.registration import InstalledSoftware, ServiceInfo, UpdatesInfo
from tests.conftest import load_fixture


def _roundtrip_keys(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json")
    return dumped


def test_register_request_parses() -> None:
    body = RegisterRequest.model_validate(load_fixture("seed_register_request.json"))
    assert body.token == "LANET-550E-660E-AEB0F9"
    hw = body.hardware_info
    assert hw.computer_name == "DESKTOP-001"
    assert hw.cpu_cores == 8 and hw.cpu_threads == 16
    assert hw.estimated_value == 2500
    assert hw.warranty_expires is not None and hw.warranty_expires.year == 2026
    assert [s.name for s in hw.installed_software] == ["Microsoft Office", "Google Chrome"]
    assert hw.services[0].status == "running" and hw.services[0].startup == "automatic"


def test_register_response_parses_with_exact_keys() -> None:
    envelope = load_fixture("seed_register_response.json")
    assert envelope["success"] is True
    data = RegisterResponse.model_validate(envelope["data"])
    assert data.config.heartbeat_interval == 60
    assert data.config.allowed_scripts == ["powershell", "batch"]
    assert set(envelope["data"]) <= set(RegisterResponse.model_fields)
    assert set(envelope["data"]["config"]) == set(type(data.config).model_fields)


def test_heartbeat_request_parses() -> None:
    body = HeartbeatRequest.model_validate(load_fixture("seed_heartbeat_request.json"))
    assert body.status.cpu_usage == 15.5
    assert body.status.uptime == 86400
    assert body.alerts[0].type == "disk_space" and body.alerts[0].current_value == 85.0
    assert body.logs[0].level == "INFO"


def test_heartbeat_response_parses() -> None:
    envelope = load_fixture("seed_heartbeat_response.json")
    data = HeartbeatResponse.model_validate(envelope["data"])
    assert data.commands[0].command_id == "cmd-123"
    assert data.commands[0].type == "script"
    assert data.config_updates == {"heartbeat_interval": 30, "log_level": "DEBUG"}
    assert data.next_heartbeat > data.received_at


def test_agent_config_has_exactly_the_seeds_sections_and_keys() -> None:
    """The seed's sections, exactly; plus ``updates``, where the seed's ``update_schedule`` (sent at
    registration and in ``config_updates``) lives with the rest of self-update's settings, and
    ``patches``, the local administrator's veto on restarts (never pushed by the server), and
    ``alert_delays``, how long a threshold must hold before its alert opens."""
    seed = load_fixture("seed_agent_config.json")
    config = AgentConfig.model_validate(seed)
    dumped = config.model_dump(mode="json")
    assert dumped.keys() == seed.keys() | {"updates", "patches", "alert_delays"}
    assert dumped["patches"] == {"allow_restart": True}
    assert dumped["alert_delays"] == {"cpu_minutes": 10, "memory_minutes": 10, "disk_minutes": 0}
    assert dumped["updates"] == {
        "enabled": True,
        "schedule": "02:00",
        "window_minutes": 120,
        "health_timeout": 600,
    }
    for section in seed:
        assert dumped[section].keys() == seed[section].keys(), section
    assert config.logging.max_bytes == 10 * 1024 * 1024
    # The defaults are the seed's values, so a fresh config equals the seed's file but for the ids.
    defaults = AgentConfig().model_dump(mode="json")
    for section in seed:
        if section != "agent":
            assert defaults[section] == seed[section], section


def test_config_updates_and_claims_examples_parse() -> None:
    updates = ConfigUpdates.model_validate(load_fixture("seed_config_updates.jsonc")["config_updates"])
    assert updates.monitoring_enabled is False and updates.cpu_threshold == 95
    claims = AgentClaims.model_validate(load_fixture("seed_agent_jwt_claims.jsonc"))
    assert claims.type == "agent" and claims.exp - claims.iat == 3600
    assert set(load_fixture("seed_agent_jwt_claims.jsonc")) == set(AgentClaims.model_fields)


@pytest.mark.parametrize(
    ("fixture", "path", "model"),
    [
        ("seed_hardware_information.jsonc", None, HardwareInfo),
        ("seed_software_information.jsonc", "installed_software", InstalledSoftware),
        ("seed_software_information.jsonc", "services", ServiceInfo),
        ("seed_software_information.jsonc", "updates", UpdatesInfo),
        ("seed_system_metrics.jsonc", None, SystemStatus),
    ],
)
def test_models_cover_every_field_the_seed_names(
    fixture: str, path: str | None, model: type[BaseModel]
) -> None:
    shape = load_fixture(fixture)
    if path is not None:
        shape = shape[path]
        if isinstance(shape, list):
            shape = shape[0]
    missing = set(shape) - set(model.model_fields)
    assert not missing, f"{model.__name__} lacks {missing}"
