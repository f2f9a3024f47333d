"""Machine-readable error codes carried in the ``code`` field of every error envelope.

Clients branch on these, never on the human message, so they are a stable part of the contract.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code the server may answer with, grouped by the HTTP status it travels with."""

    # 400
    MALFORMED_JSON = "MALFORMED_JSON"
    TOKEN_MALFORMED = "TOKEN_MALFORMED"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    # 401
    AUTH_REQUIRED = "AUTH_REQUIRED"
    AUTH_INVALID = "AUTH_INVALID"
    AUTH_EXPIRED = "AUTH_EXPIRED"
    REFRESH_INVALID = "REFRESH_INVALID"
    ASSET_RETIRED = "ASSET_RETIRED"
    # 403
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_INACTIVE = "TOKEN_INACTIVE"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_USED = "TOKEN_USED"
    ASSET_MISMATCH = "ASSET_MISMATCH"
    FORBIDDEN = "FORBIDDEN"
    # 404 / 405
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # 409
    CONFLICT = "CONFLICT"
    # 413 / 415
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # 414 / 431: a request line or headers over the front end's limits
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    # 422
    VALIDATION_ERROR = "VALIDATION_ERROR"
    # 429
    RATE_LIMITED = "RATE_LIMITED"
    # 5xx: only for faults of the server itself, never for bad input
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAVAILABLE = "UNAVAILABLE"
    TIMEOUT = "TIMEOUT"


#: Install-token refusals, keyed by code, with the reason an installer prints for a person.
TOKEN_REFUSAL_REASONS: dict[ErrorCode, str] = {
    ErrorCode.TOKEN_MALFORMED: "the token does not have the form LANET-XXXX-XXXX-XXXXXX",
    ErrorCode.TOKEN_INVALID: "the token does not exist",
    ErrorCode.TOKEN_INACTIVE: "the token was deactivated by an administrator",
    ErrorCode.TOKEN_EXPIRED: "the token has expired",
    ErrorCode.TOKEN_USED: "the token has no uses left",
}
