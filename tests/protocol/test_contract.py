"""The agent's pydantic-free validation (``contract.json`` + :mod:`lanet.protocol.contract`) against
the pydantic models it is compiled from.

Every sample message is mutated at every position (wrong types, out-of-range numbers, nulls, missing
keys) and both validators must agree on accepting it and, when accepted, on the canonical form. The
one way they may differ is on purpose: the contract does not coerce, so a boolean given for a number
or a number given for a date and time is refused where pydantic's lax mode converts it.
"""

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from lanet.agent import collectors
from lanet.agent.config import ConfigError, make_config
from lanet.protocol import contract
from lanet.protocol.agent_config import AgentConfig
from lanet.protocol.commands import CommandResult
from lanet.protocol.config_updates import ConfigUpdates
from lanet.protocol.export_contract import AGENT_MESSAGES, CONTRACT_FILE, render
from lanet.protocol.heartbeat import HeartbeatRequest, HeartbeatResponse
from lanet.protocol.registration import HardwareInfo, RefreshResponse, RegisterResponse
from lanet.protocol.tickets import TicketFromAgent
from tests.conftest import load_fixture

MUTATIONS: tuple[Any, ...] = ("x", 10**20, -1, 1.5, None, {}, [], True)
_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT")

Path_ = tuple[str | int, ...]


def test_the_committed_contract_is_what_the_models_give() -> None:
    assert CONTRACT_FILE.read_text(encoding="utf-8") == render(), (
        "contract.json is stale: run python -m lanet.protocol.export_contract"
    )
    assert set(contract.messages()) >= {model.__name__ for model in AGENT_MESSAGES}


def _samples() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    inventory = collectors.inventory()
    inventory["software"] = (inventory.get("software") or [])[:20]
    inventory["services"] = (inventory.get("services") or [])[:20]
    uuid = "456e7890-e89b-12d3-a456-426614174000"
    return [
        (AgentConfig, load_fixture("seed_agent_config.json")),
        (HeartbeatRequest, load_fixture("seed_heartbeat_request.json")),
        (HeartbeatResponse, load_fixture("seed_heartbeat_response.json")["data"]),
        (RegisterResponse, load_fixture("seed_register_response.json")["data"] | {"refresh_token": "r" * 40}),
        (HardwareInfo, load_fixture("seed_register_request.json")["hardware_info"]),
        (HardwareInfo, contract.validate("HardwareInfo", inventory)),
        (
            ConfigUpdates,
            load_fixture("seed_config_updates.jsonc")["config_updates"] | {"update_schedule": "02:00"},
        ),
        (RefreshResponse, {"agent_token": "a.b.c", "token_expires_at": "2025-07-15T22:00:00+01:00"}),
        (
            CommandResult,
            {
                "command_id": "cmd-1",
                "status": "succeeded",
                "exit_code": 0,
                "stdout": "ok",
                "started_at": "2025-07-15T21:00:00Z",
                "finished_at": "2025-07-15T21:00:01Z",
            },
        ),
        (
            TicketFromAgent,
            {
                "description": "La impresora no imprime",
                "category": "impresora",
                "priority": "alta",
                "asset_id": uuid,
                "client_id": uuid,
                "site_id": uuid,
                "auto_info": {"cpu_usage": 12.5},
                "client_ticket_id": uuid,
            },
        ),
    ]


def _positions(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _positions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield (*path, index)
            yield from _positions(item, (*path, index))


def _get(value: Any, path: Path_) -> Any:
    for part in path:
        value = value[part]
    return value


def _variants(sample: dict[str, Any]) -> Iterator[tuple[str, Path_, Any, dict[str, Any]]]:
    yield "as is", (), None, sample
    for path in _positions(sample):
        parent = _get(sample, path[:-1])
        for mutation in MUTATIONS:
            variant = copy.deepcopy(sample)
            _get(variant, path[:-1])[path[-1]] = copy.deepcopy(mutation)
            yield f"{path} = {mutation!r}", path, mutation, variant
        if isinstance(parent, dict):
            variant = copy.deepcopy(sample)
            del _get(variant, path[:-1])[path[-1]]
            yield f"{path} removed", path, None, variant


def _pydantic(model: type[BaseModel], value: Any) -> Any:
    return model.model_validate(value).model_dump(mode="json")


def _ours(model: type[BaseModel]) -> Callable[[Any], Any]:
    if model is AgentConfig:
        return lambda value: make_config(value).to_dict()
    return lambda value: contract.validate(model.__name__, value)


def _deliberately_stricter(converted: Any, mutation: Any) -> bool:
    """``converted`` is what pydantic made of ``mutation``."""
    if isinstance(mutation, bool):
        return True  # a boolean is not a number here
    is_instant = isinstance(converted, str) and bool(_INSTANT.match(converted))
    return isinstance(mutation, int | float) and is_instant


@pytest.mark.parametrize("index", range(10))
def test_both_validators_agree_on_every_mutation_of_the_samples(index: int) -> None:
    model, sample = _samples()[index]
    ours = _ours(model)
    checked = 0
    for label, path, mutation, variant in _variants(sample):
        try:
            expected = _pydantic(model, variant)
        except ValidationError:
            expected = None
        try:
            got = ours(variant)
        except (contract.ContractError, ConfigError):
            got = None
        checked += 1
        if expected is None:
            assert got is None, f"{model.__name__}: {label} accepted by the contract, refused by the model"
        elif got is None:
            assert _deliberately_stricter(_get(expected, path), mutation), (
                f"{model.__name__}: {label} refused by the contract, accepted by the model"
            )
        else:
            assert got == expected, f"{model.__name__}: {label} gives a different canonical form"
    assert checked > 10


def test_errors_name_every_offending_field() -> None:
    with pytest.raises(contract.ContractError) as info:
        contract.validate(
            "HeartbeatResponse",
            {"received_at": "yesterday", "commands": [{"command_id": 5}], "config_revision": -1},
        )
    located = {contract.dotted(loc) for loc, _msg in info.value.problems}
    assert {"received_at", "next_heartbeat", "commands.0.command_id", "config_revision"} <= located


def test_a_record_is_read_only_and_compares_by_value() -> None:
    config = make_config({"heartbeat": {"interval": 30}})
    assert config.heartbeat.interval == 30 and config == make_config({"heartbeat": {"interval": 30}})
    with pytest.raises(AttributeError, match="read-only"):
        config.heartbeat.interval = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = config.heartbeat.no_such_key


def test_every_script_type_has_an_interpreter_and_a_file_suffix() -> None:
    from lanet.agent.executor.process import _SUFFIX, resolve_type
    from lanet.protocol.values import COMMAND_TYPES, SCRIPT_TYPES

    assert set(_SUFFIX) == set(SCRIPT_TYPES)
    assert {resolve_type(kind) for kind in COMMAND_TYPES} <= set(SCRIPT_TYPES)


def test_the_agent_reads_the_allowed_values_without_pydantic() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; import lanet.protocol.values, lanet.agent.local.service; "
        "print('pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
