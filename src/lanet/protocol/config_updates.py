"""Dynamic configuration pushed by the backend in a heartbeat answer (seed: ``config_updates``).

Keys are flat, as the seed shows them; :data:`~lanet.protocol.config_keys.CONFIG_KEYS` says where each
lands in the agent's ``agent_config.json``.
"""

from typing import Annotated, Any, cast

from pydantic import Field, TypeAdapter, ValidationError

from lanet.protocol.common import WireModel
from lanet.protocol.config_keys import CONFIG_KEYS, UnknownConfigKeyError
from lanet.protocol.registration import LogLevel, ScriptType

Threshold = Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)]


class ConfigUpdates(WireModel):
    """Every key a technician may push; all optional, only the changed ones are sent."""

    heartbeat_interval: Annotated[int, Field(ge=5, le=86_400)] | None = None
    log_level: LogLevel | None = None
    monitoring_enabled: bool | None = None
    cpu_threshold: Threshold | None = None
    memory_threshold: Threshold | None = None
    disk_threshold: Threshold | None = None
    service_monitoring: bool | None = None
    process_monitoring: bool | None = None
    auto_ticket_creation: bool | None = None
    heartbeat_enabled: bool | None = None
    include_metrics: bool | None = None
    include_logs: bool | None = None
    send_logs_to_backend: bool | None = None
    scripts_enabled: bool | None = None
    allowed_scripts: list[ScriptType] | None = None
    script_timeout: Annotated[int, Field(ge=1, le=86_400)] | None = None
    max_concurrent_scripts: Annotated[int, Field(ge=1, le=32)] | None = None
    update_schedule: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None


__all__ = ["CONFIG_KEYS", "ConfigUpdates", "UnknownConfigKeyError", "validate_config_value"]

if set(CONFIG_KEYS) != set(ConfigUpdates.model_fields):  # pragma: no cover - caught at import in tests
    raise RuntimeError("CONFIG_KEYS must cover every ConfigUpdates key")


def validate_config_value(key: str, value: Any) -> Any:
    """Validate one pushed value; raise :class:`UnknownConfigKeyError` or pydantic's ValidationError.

    Returns the value in its canonical JSON form, so what is stored is what the agent will receive.
    """
    if key not in ConfigUpdates.model_fields:
        raise UnknownConfigKeyError(key)
    if value is None:
        raise ValidationError.from_exception_data(
            "ConfigUpdates", [{"type": "missing", "loc": (key,), "input": value}]
        )
    adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, ConfigUpdates.model_fields[key].annotation))
    return adapter.dump_python(adapter.validate_python(value, strict=False), mode="json")
