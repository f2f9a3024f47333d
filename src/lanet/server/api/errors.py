"""One error shape for every failure: the envelope of DESIGN.md §2.

Any ``HTTPException`` Werkzeug raises (404, 405, 413, ...) is turned into the envelope too, so no
client ever sees an HTML error page from the API.
"""

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from lanet.protocol.common import ErrorDetail, ErrorEnvelope
from lanet.protocol.errors import ErrorCode

log = logging.getLogger(__name__)

_STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.MALFORMED_JSON,
    401: ErrorCode.AUTH_REQUIRED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
}


class ApiError(Exception):
    """Raised anywhere in a request to answer with an error envelope."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def error_response(
    status: int,
    code: ErrorCode | str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = ErrorEnvelope(error=message, code=str(code), details=details or [])
    response = Response(body.model_dump_json(), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def details_from_validation(exc: ValidationError, prefix: str = "") -> list[ErrorDetail]:
    """Name each offending field; never echo the input back (it may hold a secret)."""
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join(str(part) for part in err["loc"]) or "body"
        details.append(
            ErrorDetail(field=f"{prefix}{path}" if prefix else path, message=err["msg"], type=err["type"])
        )
    return details


def validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    details = details_from_validation(exc, prefix)
    named = ", ".join(d.field for d in details[:5])
    more = f" and {len(details) - 5} more" if len(details) > 5 else ""
    return ApiError(422, ErrorCode.VALIDATION_ERROR, f"Invalid fields: {named}{more}", details)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if not _wants_json():
            return _html_page(status) or exc
        message = {
            404: f"No API endpoint at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: "The request body is larger than the server accepts",
        }.get(status, exc.description or exc.name)
        headers: dict[str, Any] = {}
        if status == 405:
            headers["Allow"] = ", ".join(exc.valid_methods or []) if hasattr(exc, "valid_methods") else ""
        code = _STATUS_CODES.get(status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.FORBIDDEN)
        return error_response(status, code, message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # A fault of ours: log it with its stack, tell the client without detail.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            page = _html_page(500)
            if page is not None:
                return page  # type: ignore[no-any-return]
        return error_response(500, ErrorCode.INTERNAL_ERROR, "Internal server error")


def _html_page(status: int) -> Any:
    """The HTML error page of the part of the site the request is in (see :data:`HTML_ERROR_PAGES`)."""
    for prefix, render in current_app.extensions.get(HTML_ERROR_PAGES, {}).items():
        if request.path.startswith(prefix):
            return render(status)
    return None


#: ``app.extensions`` key: path prefix -> callable(status) giving an HTML error answer.
HTML_ERROR_PAGES = "lanet_html_error_pages"


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
