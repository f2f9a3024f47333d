"""Validate the agent's messages against ``contract.json`` without pydantic.

``contract.json`` is the JSON Schema that :mod:`lanet.protocol.export_contract` compiles from the
pydantic models, so the models stay the one definition of the wire and this module only reads it. It
understands the part of JSON Schema those models produce (types, properties, required, defaults,
enums, bounds, lengths, patterns, ``date-time``, ``anyOf``, ``$ref``) and gives what a pydantic
``model_dump(mode="json")`` would: unknown keys of ordinary messages dropped (``extra="ignore"``),
refused where the schema says ``additionalProperties: false``, defaults filled in, instants written as
``2025-07-15T21:00:00Z``. ``tests/protocol/test_contract.py`` holds the two to the same answers.

:class:`Record` gives attribute access over a validated object (``config.heartbeat.interval``).
"""

import copy
import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from lanet.protocol.limits import FREE_JSON_KEYWORD, check_free_json, instant_in_utc

Loc = tuple[str | int, ...]


class ContractError(ValueError):
    """A value does not fit the contract; ``problems`` lists (location, message) pairs."""

    def __init__(self, message_name: str, problems: list[tuple[Loc, str]]) -> None:
        self.message_name = message_name
        self.problems = problems
        super().__init__(f"{message_name}: {self.listed()}")

    def listed(self, limit: int | None = None) -> str:
        """``field.path: problem; ...`` for the first ``limit`` problems (all by default)."""
        return "; ".join(f"{dotted(loc) or '(root)'}: {msg}" for loc, msg in self.problems[:limit])


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


@cache
def _definitions() -> dict[str, Any]:
    text = Path(__file__).with_name("contract.json").read_text(encoding="utf-8")
    definitions: dict[str, Any] = json.loads(text)["$defs"]
    return definitions


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


class _Problems(Exception):
    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems


_MISSING = object()


class _Validator:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def check(self, schema: dict[str, Any], value: Any, loc: Loc) -> Any:
        """Return the canonical form of ``value`` or raise :class:`_Problems`."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            return self._any_of(schema["anyOf"], value, loc)
        if "const" in schema and value != schema["const"]:
            raise _Problems([(loc, f"must be {schema['const']!r}")])
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(repr(item) for item in schema["enum"])
            raise _Problems([(loc, f"must be one of {allowed}")])
        kind = schema.get("type")
        result = copy.deepcopy(value) if kind is None else getattr(self, f"_{kind}")(schema, value, loc)
        if schema.get(FREE_JSON_KEYWORD):
            try:
                check_free_json(result)
            except ValueError as exc:
                raise _Problems([(loc, str(exc))]) from None
        return result

    def _any_of(self, options: list[dict[str, Any]], value: Any, loc: Loc) -> Any:
        best: list[tuple[Loc, str]] | None = None
        for option in options:
            try:
                return self.check(option, value, loc)
            except _Problems as exc:
                # Report the branch that is not "null": "must be null" helps nobody.
                if best is None or self.resolve(option).get("type") != "null":
                    best = exc.problems
        raise _Problems(best or [(loc, "does not match any allowed form")])

    @staticmethod
    def _null(schema: dict[str, Any], value: Any, loc: Loc) -> None:
        if value is not None:
            raise _Problems([(loc, "must be null")])

    @staticmethod
    def _boolean(schema: dict[str, Any], value: Any, loc: Loc) -> bool:
        if not isinstance(value, bool):
            raise _Problems([(loc, "must be true or false")])
        return value

    def _integer(self, schema: dict[str, Any], value: Any, loc: Loc) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Problems([(loc, "must be an integer")])
        self._bounds(schema, value, loc)
        return value

    def _number(self, schema: dict[str, Any], value: Any, loc: Loc) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Problems([(loc, "must be a number")])
        if isinstance(value, float) and not math.isfinite(value):
            raise _Problems([(loc, "must be a finite number")])
        self._bounds(schema, value, loc)
        return value

    @staticmethod
    def _bounds(schema: dict[str, Any], value: float, loc: Loc) -> None:
        if "minimum" in schema and value < schema["minimum"]:
            raise _Problems([(loc, f"must be at least {schema['minimum']}")])
        if "maximum" in schema and value > schema["maximum"]:
            raise _Problems([(loc, f"must be at most {schema['maximum']}")])
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise _Problems([(loc, f"must be greater than {schema['exclusiveMinimum']}")])
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            raise _Problems([(loc, f"must be less than {schema['exclusiveMaximum']}")])

    @staticmethod
    def _string(schema: dict[str, Any], value: Any, loc: Loc) -> str:
        if not isinstance(value, str):
            raise _Problems([(loc, "must be a string")])
        if len(value) < schema.get("minLength", 0):
            raise _Problems([(loc, f"must have at least {schema['minLength']} characters")])
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise _Problems([(loc, f"must have at most {schema['maxLength']} characters")])
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            raise _Problems([(loc, f"must match {schema['pattern']}")])
        if schema.get("format") == "date-time":
            return _instant(value, loc)
        return value

    def _array(self, schema: dict[str, Any], value: Any, loc: Loc) -> list[Any]:
        if not isinstance(value, list):
            raise _Problems([(loc, "must be a list")])
        if len(value) < schema.get("minItems", 0):
            raise _Problems([(loc, f"must have at least {schema['minItems']} items")])
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise _Problems([(loc, f"must have at most {schema['maxItems']} items")])
        items = schema.get("items")
        if items is None:
            return copy.deepcopy(value)
        out: list[Any] = []
        problems: list[tuple[Loc, str]] = []
        for index, item in enumerate(value):
            try:
                out.append(self.check(items, item, (*loc, index)))
            except _Problems as exc:
                problems.extend(exc.problems)
        if problems:
            raise _Problems(problems)
        return out

    def _object(self, schema: dict[str, Any], value: Any, loc: Loc) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Problems([(loc, "must be an object")])
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", _MISSING)
        out: dict[str, Any] = {}
        problems: list[tuple[Loc, str]] = []
        for name in schema.get("required", ()):
            if name not in value:
                problems.append(((*loc, name), "is required"))
        for name, item in value.items():
            if name in properties:
                sub = properties[name]
            elif extra is _MISSING:
                continue  # an ordinary message ignores what it does not know
            elif extra is False:
                problems.append(((*loc, name), "is not a known key"))
                continue
            elif extra is True:
                out[name] = copy.deepcopy(item)
                continue
            else:
                sub = extra
            try:
                out[name] = self.check(sub, item, (*loc, name))
            except _Problems as exc:
                problems.extend(exc.problems)
        if problems:
            raise _Problems(problems)
        for name, sub in properties.items():
            if name not in out and "default" in sub:
                out[name] = self.check(sub, copy.deepcopy(sub["default"]), (*loc, name))
        return {name: out[name] for name in properties if name in out} | {
            name: item for name, item in out.items() if name not in properties
        }


def _instant(value: str, loc: Loc) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Problems([(loc, "must be an ISO 8601 date and time")]) from None
    try:
        return instant_in_utc(parsed).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError as exc:
        raise _Problems([(loc, str(exc))]) from None


def messages() -> list[str]:
    """The names :func:`validate` knows."""
    return sorted(_definitions())


def validate(message_name: str, value: Any) -> Any:
    """Return the canonical JSON-ready form of ``value`` as the message ``message_name``.

    Raises :class:`ContractError` naming every offending field.
    """
    defs = _definitions()
    if message_name not in defs:
        raise KeyError(f"no message {message_name!r} in the contract")
    try:
        return _Validator(defs).check(defs[message_name], value, ())
    except _Problems as exc:
        raise ContractError(message_name, exc.problems) from None


def validate_field(message_name: str, field: str, value: Any) -> Any:
    """Validate one property of ``message_name`` on its own (a pushed config key, say)."""
    defs = _definitions()
    properties = defs[message_name].get("properties", {})
    if field not in properties:
        raise KeyError(field)
    try:
        return _Validator(defs).check(properties[field], value, (field,))
    except _Problems as exc:
        raise ContractError(message_name, exc.problems) from None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """``value`` with NUL characters and lone surrogates replaced by U+FFFD at every depth: the
    server refuses them (PostgreSQL cannot store NUL, UTF-8 has no surrogates), and a log line or a
    program name read off the OS may carry them. Better a replaced character than a refused message."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def drop_none(value: Any) -> Any:
    """Leave out null members of objects at every depth, as ``model_dump(exclude_none=True)`` does."""
    if isinstance(value, dict):
        return {key: drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_none(item) for item in value]
    return value


class Record(Mapping[str, Any]):
    """Read-only attribute access over a validated JSON object; nested objects are records too.

    Changing a value means building a new one (:func:`lanet.agent.config.replace`), so the validated
    state is never edited past its validation.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(name) from None
        return Record(value) if isinstance(value, dict) else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Record is read-only; use replace() to change {name!r}")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        mine: dict[str, Any] = self._data
        return mine == (other._data if isinstance(other, Record) else other)

    def __hash__(self) -> int:
        raise TypeError("a Record is not hashable")

    def __repr__(self) -> str:
        return f"Record({self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the data, safe to change."""
        return copy.deepcopy(self._data)
