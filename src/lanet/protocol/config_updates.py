"""Dynamic configuration pushed by the backend in a heartbeat answer (seed: ``config_updates``).

Keys are flat, as the seed shows them; :data:`~lanet.protocol.config_keys.CONFIG_KEYS` says where each
lands in the agent's ``agent_config.json``.
"""

from typing import Annotated, Any, cast

from pydantic import TypeAdapter, ValidationError, create_model

from lanet.protocol.agent_config import AgentConfig
from lanet.protocol.common import WireModel
from lanet.protocol.config_keys import CONFIG_KEYS, UnknownConfigKeyError

#: Keys the server acts on itself (they have no place in the agent's file).
_SERVER_KEYS: dict[str, Any] = {
    "auto_ticket_creation": bool,
}


def _derived() -> dict[str, Any]:
    """Each key's type and bounds, taken from the file's section it lands in: declared once in
    :class:`~lanet.protocol.agent_config.AgentConfig`, so a bound cannot differ between the file and
    what the backend may push."""
    fields: dict[str, Any] = {}
    for key, target in CONFIG_KEYS.items():
        if target is None:
            annotation = _SERVER_KEYS[key]
        else:
            section, name = target
            model = AgentConfig.model_fields[section].annotation
            info = model.model_fields[name]  # type: ignore[union-attr]
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[key] = (annotation | None, None)
    return fields


ConfigUpdates = create_model(  # type: ignore[call-overload]
    "ConfigUpdates",
    __base__=WireModel,
    __doc__="Every key a technician may push; all optional, only the changed ones are sent.",
    **_derived(),
)


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
