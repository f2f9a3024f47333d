"""Declared API operations: one decorator validates the body, wraps the answer in the envelope and
records the operation for the OpenAPI document, so the document cannot drift from the code.
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

import lanet
from lanet.protocol.common import ErrorDetail, ErrorEnvelope
from lanet.protocol.errors import ErrorCode
from lanet.server.api.errors import ApiError, dumps, validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

_ERROR_TEXT = {
    400: "Malformed request (e.g. the body is not valid JSON)",
    401: "Missing, invalid or expired credentials",
    403: "The credentials do not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body larger than the server accepts",
    415: "The body is not JSON",
    422: "The body failed validation; details name each field",
    429: "Too many requests; see Retry-After",
    503: "The service is unavailable",
}


#: auth kind -> a check that raises ApiError (401/429) for a caller without valid credentials. Run
#: before the body is read: an unauthenticated caller learns nothing from validation errors.
AUTHENTICATORS: dict[str, Callable[[], object]] = {}


CheckT = TypeVar("CheckT", bound=Callable[[], object])


def authenticator(kind: str) -> Callable[[CheckT], CheckT]:
    """Declare the check for operations with ``auth=kind``."""

    def register(check: CheckT) -> CheckT:
        AUTHENTICATORS[kind] = check
        return check

    return register


@dataclass
class Reply:
    """What a view returns when it needs a status or headers other than the operation's default."""

    data: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    description: str
    tag: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: str | None
    errors: tuple[int, ...]
    operation_id: str
    query: dict[str, str] = field(default_factory=dict)


def parse_json_body(model: type[ModelT]) -> ModelT:
    """Read the request body as JSON and validate it against ``model``.

    Non-JSON content types get 415, unparsable JSON 400 (with where it broke), a failed validation 422
    naming each field. Size is bounded earlier by ``MAX_CONTENT_LENGTH`` (413).
    """
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Send the body as application/json, not {mimetype}"
        )
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, ErrorCode.MALFORMED_JSON, "The request body is empty; send a JSON object")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotStorableNumberError as exc:
        raise ApiError(400, ErrorCode.MALFORMED_JSON, f"The body is not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            ErrorCode.MALFORMED_JSON,
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except (ValueError, RecursionError):
        raise ApiError(400, ErrorCode.MALFORMED_JSON, "The body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, ErrorCode.MALFORMED_JSON, "The body must be a JSON object")
    _refuse_unstorable_text(raw, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


class _NotStorableNumberError(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    """``NaN``, ``Infinity`` and ``-Infinity`` are JavaScript, not JSON (RFC 8259 §6)."""
    raise _NotStorableNumberError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """``1e400`` is valid JSON but no double holds it: Python would read it as infinity."""
    value = float(text)
    if math.isinf(value):
        raise _NotStorableNumberError(f"the number {text[:40]} is too large for a 64-bit float")
    return value


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800-style escape
        return True
    return False


def _bad_text_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if _bad_text(value) else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _bad_text(key):
                found.append(path or "body")
            found += _bad_text_paths(item, child)
        return found
    if isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in _bad_text_paths(item, f"{path}.{i}" if path else str(i))
        ]
    return []


_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _refuse_unstorable_text(raw: bytes, data: dict[str, Any]) -> None:
    """NUL characters and lone surrogates are valid JSON escapes but cannot be stored (PostgreSQL
    text refuses NUL; UTF-8 has no surrogates): refuse them naming the fields, on the slow path only."""
    if _SUSPECT_ESCAPE.search(raw) is None:  # fast path: no escape that could decode to either
        return
    details = [
        ErrorDetail(
            field=path, message="Text must be valid Unicode without NUL characters", type="string_unicode"
        )
        for path in dict.fromkeys(_bad_text_paths(data))
    ]
    if not details:  # only a literal backslash-u-0000 in some text: harmless
        return
    raise ApiError(
        422,
        ErrorCode.VALIDATION_ERROR,
        "Invalid text in: " + ", ".join(d.field for d in details[:5]),
        details,
    )


def _refuse_unstorable_args(path_args: dict[str, Any]) -> None:
    """The same rule for the query string and path segments as for bodies (PostgreSQL refuses NUL)."""
    bad = [f"query.{name}" for name, values in request.args.lists() for value in values if _bad_text(value)]
    bad += [
        f"path.{name}" for name, value in path_args.items() if isinstance(value, str) and _bad_text(value)
    ]
    if bad:
        details = [
            ErrorDetail(
                field=field,
                message="Text must be valid Unicode without NUL characters",
                type="string_unicode",
            )
            for field in bad
        ]
        raise ApiError(422, ErrorCode.VALIDATION_ERROR, "Invalid text in: " + ", ".join(bad[:5]), details)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(data), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ApiBlueprint(Blueprint):
    """A blueprint whose routes are declared operations."""

    def __init__(self, name: str, import_name: str, url_prefix: str, tag: str) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix)
        self.tag = tag
        self.operations: list[Operation] = []

    def operation(
        self,
        rule: str,
        method: str = "POST",
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: str | None = None,
        errors: tuple[int, ...] = (),
        query: dict[str, str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
        def decorator(fn: Callable[..., Any]) -> Callable[..., Response]:
            declared = set(errors) | {429}
            if body is not None:
                declared |= {400, 413, 415, 422}
            if query or "<" in rule:
                declared |= {422}  # text that cannot be stored, in the query string or the path
            if auth is not None:
                declared |= {401, 403}
            self.operations.append(
                Operation(
                    path=(self.url_prefix or "") + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule),
                    method=method.lower(),
                    summary=summary,
                    description=(fn.__doc__ or "").strip(),
                    tag=self.tag,
                    body=body,
                    response=response,
                    status=status,
                    auth=auth,
                    errors=tuple(sorted(declared)),
                    operation_id=f"{self.name}_{fn.__name__}",
                    query=dict(query or {}),
                )
            )

            @wraps(fn)
            def view(**kwargs: Any) -> Response:
                if auth is not None:
                    AUTHENTICATORS[auth]()
                _refuse_unstorable_args(kwargs)
                if body is not None:
                    kwargs["body"] = parse_json_body(body)
                result = fn(**kwargs)
                reply = result if isinstance(result, Reply) else Reply(result)
                data = reply.data
                if isinstance(data, BaseModel):
                    data = data.model_dump(mode="json")
                return json_response({"success": True, "data": data}, reply.status or status, reply.headers)

            self.add_url_rule(rule, view_func=view, methods=[method])
            return view

        return decorator


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    operations = [
        op for bp in app.blueprints.values() if isinstance(bp, ApiBlueprint) for op in bp.operations
    ]
    models: list[tuple[type[BaseModel], Any]] = [(ErrorEnvelope, "serialization")]
    for op in operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    error_ref = refs[(ErrorEnvelope, "serialization")]

    paths: dict[str, Any] = {}
    for op in operations:
        data_schema = refs[(op.response, "serialization")] if op.response is not None else {"type": "object"}
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "Success",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["success", "data"],
                            "properties": {"success": {"const": True}, "data": data_schema},
                        }
                    }
                },
            }
        }
        for status in op.errors:
            entry: dict[str, Any] = {
                "description": _ERROR_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
            if status == 429:
                entry["headers"] = {
                    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
                }
            responses[str(status)] = entry
        spec: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": responses,
        }
        if op.description:
            spec["description"] = op.description
        params = _path_parameters(op.path) + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string", "maxLength": 255},
            }
            for name, text in op.query.items()
        ]
        if params:
            spec["parameters"] = params
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        if op.auth == "agent":
            spec["security"] = [{"agentJWT": []}]
        elif op.auth == "technician":
            spec["security"] = [{"technicianKey": []}]
        paths.setdefault(op.path, {})[op.method] = spec

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LANET Agent API",
            "version": lanet.__version__,
            "description": "The agent protocol of LANET Helpdesk: registration with an install token, "
            "heartbeats, inventory and token refresh. Every answer is an envelope: "
            '{"success": true, "data": ...} or {"success": false, "error", "code", "details"}.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "agentJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "technicianKey": {"type": "http", "scheme": "bearer", "description": "lak_... API key"},
            },
        },
    }
