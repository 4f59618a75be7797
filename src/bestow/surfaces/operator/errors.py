"""The Operator API's envelope: every response is ``{"message", "data", "responseCode"}``.

Success is ``200`` with ``responseCode`` ``OK``; errors carry ``data: {}`` and the code of their
status (``docs/operator-api.md``). This is the one place where errors become the vendor's codes:
handlers and the free-bets domain raise domain errors (``bestow.freebets.errors`` are kinds of
``bestow.kit.errors``), ``surfaces.common.classify`` gives each its status, ``render`` its code.
"""

from __future__ import annotations

from typing import Any

from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo

OK = "OK"
CODES = {
    400: "ValidationError",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    429: "RateLimited",
    503: "ServiceUnavailable",
}
INTERNAL = "InternalError"


def envelope(data: Any, *, message: str = OK, code: str = OK) -> dict[str, Any]:
    return {"message": message, "data": data, "responseCode": code}


def ok(data: Any = None) -> JSONResponse:
    """A success: ``data`` is ``{}`` when there is nothing to return."""
    return JSONResponse(envelope({} if data is None else data))


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    code = CODES.get(info.status, INTERNAL)
    return JSONResponse(
        envelope({}, message=info.message, code=code),
        status_code=info.status,
        headers=dict(info.headers),
    )
