"""The Partner API's error shape: ``{code, message}`` with the vendor's codes."""

from __future__ import annotations

from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo

CODES = {
    "unauthenticated": "AUTHENTICATION_GENERIC",
    "forbidden": "FORBIDDEN",
    "not_found": "RESOURCE_NOT_FOUND",
    "invalid": "BAD_REQUEST",
    "too_large": "BAD_REQUEST",
    "unsupported_media_type": "BAD_REQUEST",
    "method_not_allowed": "BAD_REQUEST",
    "conflict": "CONFLICT",
    "invalid_state": "INVALID_STATE",
    "idempotency_in_flight": "IDEMPOTENCY_REQUEST_IN_PROGRESS",
    "idempotency_mismatch": "IDEMPOTENCY_KEY_REUSED",
    "rate_limited": "RATE_LIMIT_EXCEEDED",
    "internal": "GENERIC_ERROR",
    "unavailable": "SERVICE_UNAVAILABLE",
}


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    code = CODES.get(info.kind, "GENERIC_ERROR" if info.status >= 500 else "BAD_REQUEST")
    return JSONResponse(
        {"code": code, "message": info.message}, status_code=info.status, headers=info.headers
    )
