"""Value ranges, token format and the small parsers of the protocol."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lanet.protocol import HeartbeatRequest, RegisterRequest, validate_token_format
from lanet.protocol.agent_config import AgentConfig
from lanet.protocol.common import format_timestamp
from lanet.protocol.config_updates import UnknownConfigKeyError, validate_config_value
from lanet.protocol.limits import parse_size
from lanet.protocol.tokens import new_token, token_hint

ASSET = "456e7890-e89b-12d3-a456-426614174000"


@pytest.mark.parametrize(
    ("token", "valid"),
    [
        ("LANET-550E-660E-AEB0F9", True),
        ("LANET-ABCD-1234-ZZZZ99", True),
        ("lanet-550e-660e-aeb0f9", False),
        ("LANET-550E-660E-AEB0F", False),
        ("LANET-550E-660E-AEB0F9 ", False),
        ("LANET-550E-660EAEB0F9", False),
        ("", False),
        ("LANET-55_E-660E-AEB0F9", False),
    ],
)
def test_token_format_is_the_seeds_regex(token: str, valid: bool) -> None:
    assert validate_token_format(token) is valid


def test_new_tokens_match_the_format_and_hint_hides_the_secret_part() -> None:
    token = new_token("550E", "660E")
    assert validate_token_format(token) and token.startswith("LANET-550E-660E-")
    hint = token_hint(token)
    assert token[-6:-2] not in hint and hint.endswith(token[-2:])
    with pytest.raises(ValueError, match="four characters"):
        new_token("toolong", "660E")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_usage", 100.1),
        ("cpu_usage", -0.1),
        ("memory_usage", 101),
        ("disk_usage", float("nan")),
        ("uptime", -1),
        ("processes_count", -3),
        ("threads_count", -1),
        ("network_usage", -2.0),
    ],
)
def test_out_of_range_metrics_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as info:
        HeartbeatRequest.model_validate({"asset_id": ASSET, "status": {field: value}})
    assert info.value.errors()[0]["loc"] == ("status", field)


def test_percent_bounds_are_inclusive() -> None:
    body = HeartbeatRequest.model_validate(
        {"asset_id": ASSET, "status": {"cpu_usage": 0, "memory_usage": 100}}
    )
    assert body.status.cpu_usage == 0 and body.status.memory_usage == 100


def test_inventory_counts_are_validated() -> None:
    with pytest.raises(ValidationError) as info:
        RegisterRequest.model_validate(
            {"token": "x", "hardware_info": {"computer_name": "PC", "cpu_cores": 0, "mac_address": "zz"}}
        )
    fields = {err["loc"] for err in info.value.errors()}
    assert fields == {("hardware_info", "cpu_cores"), ("hardware_info", "mac_address")}


def test_timestamps_are_normalised_to_utc_and_written_with_z() -> None:
    body = HeartbeatRequest.model_validate(
        {"asset_id": ASSET.upper(), "status": {"last_boot": "2025-07-14T23:00:00+02:00"}}
    )
    assert body.asset_id == ASSET
    assert body.status.last_boot == datetime(2025, 7, 14, 21, 0, tzinfo=UTC)
    assert body.model_dump(mode="json")["status"]["last_boot"] == "2025-07-14T21:00:00Z"
    assert format_timestamp(datetime(2025, 7, 15, 21, 0, 0, 123456)) == "2025-07-15T21:00:00Z"


@pytest.mark.parametrize(("text", "size"), [("10MB", 10 * 1024**2), ("512KB", 512 * 1024), ("1 GB", 1024**3)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_agent_config_errors_name_the_key() -> None:
    with pytest.raises(ValidationError) as info:
        AgentConfig.model_validate(
            {"heartbeat": {"interval": 1}, "logging": {"max_size": "huge"}, "monitoring": {"cpu_treshold": 5}}
        )
    locs = {err["loc"] for err in info.value.errors()}
    assert locs == {("heartbeat", "interval"), ("logging", "max_size"), ("monitoring", "cpu_treshold")}


def test_config_values_are_validated_per_key() -> None:
    assert validate_config_value("heartbeat_interval", "30") == 30
    assert validate_config_value("allowed_scripts", ["bash"]) == ["bash"]
    with pytest.raises(ValidationError):
        validate_config_value("heartbeat_interval", 4)
    with pytest.raises(ValidationError):
        validate_config_value("log_level", "LOUD")
    with pytest.raises(UnknownConfigKeyError):
        validate_config_value("no_such_key", 1)
