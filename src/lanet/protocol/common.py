"""Shared field types and the response envelope.

Timestamps on the wire are ISO 8601 UTC with a ``Z`` suffix. Incoming timestamps may carry any offset
(or none, read as UTC); they are normalised to aware UTC datetimes so comparisons never mix naive and
aware values.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from lanet.protocol.limits import FREE_JSON_KEYWORD, check_free_json, instant_in_utc


def _to_utc(value: datetime) -> datetime:
    return instant_in_utc(value)


def format_timestamp(value: datetime) -> str:
    """Render a datetime as the wire's ISO 8601 UTC form, to the second, as the seed shows it
    (``2025-07-15T21:00:00Z``)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


Timestamp = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An instant in time; serialised as ISO 8601 UTC with ``Z``."""

Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
"""A percentage, 0 to 100 inclusive."""

NonNegativeInt = Annotated[int, Field(ge=0, le=2**53)]
"""A large count or size (bytes, seconds): stored as a 64-bit integer or inside JSON."""

INT32_MAX = 2**31 - 1
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count or revision stored in a 32-bit integer column (processes, threads, config revisions)."""
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]

UUIDStr = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        min_length=36,
        max_length=36,
    ),
    AfterValidator(str.lower),
]
"""A UUID in its canonical 36-character text form (lower-cased on the way in)."""

FreeJsonObject = Annotated[
    dict[str, Any],
    AfterValidator(check_free_json),
    WithJsonSchema({"type": "object", "additionalProperties": True, FREE_JSON_KEYWORD: True}),
]
"""A JSON object of any shape, within :func:`check_free_json`'s bounds."""
FreeJson = Annotated[Any, AfterValidator(check_free_json), WithJsonSchema({FREE_JSON_KEYWORD: True})]
"""Any JSON value, within :func:`check_free_json`'s bounds."""


def short_text(max_length: int = 255) -> Any:
    """A bounded free-text field; bounds keep a bad agent from filling the database."""
    return Field(default=None, max_length=max_length)


class WireModel(BaseModel):
    """Base for messages on the wire.

    Unknown fields are ignored, not refused: a newer agent may talk to an older server and the other
    way round, and each must keep working on the fields it knows.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ErrorDetail(BaseModel):
    """One offending field: where it is (dotted path) and what is wrong with it."""

    field: str = Field(description="Dotted path of the field, e.g. 'hardware_info.cpu_cores'")
    message: str
    type: str = Field(description="Machine-readable kind of problem, e.g. 'missing', 'greater_than_equal'")


class ErrorEnvelope(BaseModel):
    """The body of every error answer."""

    success: bool = Field(default=False, json_schema_extra={"const": False})
    error: str = Field(description="What went wrong, for a person")
    code: str = Field(description="What went wrong, for a program: one of the ErrorCode values")
    details: list[ErrorDetail] = Field(default_factory=list)


def success_envelope(data: Any) -> dict[str, Any]:
    """Wrap ``data`` (already JSON-ready) in the seed's ``{"success": true, "data": ...}`` envelope."""
    return {"success": True, "data": data}
