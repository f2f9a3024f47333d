"""``agent_config.json``: load with errors that name the key, save atomically, apply pushed updates.

The file's shape is :class:`lanet.protocol.AgentConfig` (exactly the seed's sections and keys), read
here through its compiled form in :mod:`lanet.protocol.contract` so the service never loads pydantic.
The loaded config is a read-only :class:`~lanet.protocol.contract.Record`; a change builds a new one.
"""

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from lanet.protocol import contract
from lanet.protocol.config_keys import CONFIG_KEYS
from lanet.protocol.contract import ContractError, Record
from lanet.protocol.limits import check_log_size

AgentConfig = Record
"""A validated ``agent_config.json`` (attribute access: ``config.heartbeat.interval``)."""

log = logging.getLogger("lanet.agent.config")


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the key and the problem."""


def make_config(data: dict[str, Any] | None = None) -> AgentConfig:
    """Validate ``data`` (sections as in the file; missing keys take the seed's defaults).

    Raises :class:`ConfigError` naming every bad key.
    """
    try:
        valid = contract.validate("AgentConfig", data or {})
    except ContractError as exc:
        raise ConfigError(exc.listed()) from None
    try:
        check_log_size(valid["logging"]["max_size"])
    except ValueError as exc:
        raise ConfigError(f"logging.max_size: {exc}") from None
    return Record(valid)


def replace(config: AgentConfig, section: str, key: str, value: Any) -> AgentConfig:
    """A copy of ``config`` with one key changed, validated like a loaded file."""
    data = config.to_dict()
    data[section][key] = value
    return make_config(data)


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``path``; a missing file gives the seed's defaults."""
    if not path.exists():
        return make_config()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object with the sections agent, backend, heartbeat, ...")
    try:
        return make_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(path: Path, config: AgentConfig) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of either."""
    write_atomic(path, json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n")


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if os.name == "posix":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_updates(
    config: AgentConfig, updates: dict[str, Any]
) -> tuple[AgentConfig, dict[str, Any], dict[str, str]]:
    """Merge the backend's flat ``config_updates`` into ``config``.

    Returns the new config, the keys applied (with their values, including server-side keys that have
    no place in the file) and the keys refused with the reason. One bad key does not block the others.
    """
    data = config.to_dict()
    applied: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for key, value in updates.items():
        if key not in CONFIG_KEYS:
            refused[key] = "unknown key"
            continue
        if value is None:
            refused[key] = "must not be null"
            continue
        try:
            canonical = contract.validate_field("ConfigUpdates", key, value)
        except ContractError as exc:
            refused[key] = "; ".join(msg for _loc, msg in exc.problems)
            continue
        target = CONFIG_KEYS[key]
        if target is not None:
            section, name = target
            data[section][name] = canonical
        applied[key] = canonical
    return make_config(data), applied, refused


def apply_pushed(config: AgentConfig, updates: dict[str, Any], path: Path) -> AgentConfig:
    """The backend's ``config_updates`` applied and saved; ``config`` itself when nothing applies.
    Refusals are logged key by key: one bad key does not block the others."""
    new, applied, refused = apply_updates(config, updates)
    for key, reason in refused.items():
        log.warning("config update %s refused: %s", key, reason)
    if not applied:
        return config
    save_config(path, new)
    log.info("configuration updated by the backend: %s", ", ".join(f"{k}={v}" for k, v in applied.items()))
    return new
