"""``agent_config.json``: load with errors that name the key, save atomically, apply pushed updates.

The file's shape is :class:`lanet.protocol.AgentConfig` (exactly the seed's sections and keys).
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lanet.protocol import AgentConfig
from lanet.protocol.config_updates import CONFIG_KEYS, UnknownConfigKeyError, validate_config_value


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the key and the problem."""


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``path``; a missing file gives the seed's defaults."""
    if not path.exists():
        return AgentConfig()
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
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigError(f"{path}: {problems}") from None


def save_config(path: Path, config: AgentConfig) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of either."""
    write_atomic(path, json.dumps(config.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")


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
    data = config.model_dump()
    applied: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for key, value in updates.items():
        try:
            canonical = validate_config_value(key, value)
        except UnknownConfigKeyError:
            refused[key] = "unknown key"
            continue
        except ValidationError as exc:
            refused[key] = "; ".join(err["msg"] for err in exc.errors(include_url=False, include_input=False))
            continue
        target = CONFIG_KEYS[key]
        if target is not None:
            section, name = target
            data[section][name] = canonical
        applied[key] = canonical
    return AgentConfig.model_validate(data), applied, refused
