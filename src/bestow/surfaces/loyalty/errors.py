"""The Loyalty API's error shape: ``{"statusCode", "errorCode", "errorMessage"}``.

The seed's refusals are all ``400`` with ``errorCode`` ``INVALID_REQUEST``; the other statuses
carry a code of the same style (``UNAUTHORIZED``, ``FORBIDDEN``, ``NOT_FOUND``, ...). The one
place where the domain's errors get them: the loyalty domain refuses with ``Invalid`` kinds
(``AdhocRefused``, ``UnknownIdentifierType``, ...), which ``surfaces.common.classify`` makes 400s.
"""

from __future__ import annotations

from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo

CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    status, message = info.status, info.message
    headers = dict(info.headers)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="bestow"'
    body = {
        "statusCode": status,
        "errorCode": CODES.get(status, "INTERNAL_ERROR"),
        "errorMessage": message,
    }
    return JSONResponse(body, status_code=status, headers=headers)
