"""RFC 9457 problem details for the Admin API (and any path no vendor surface owns)."""

from __future__ import annotations

from typing import Any

from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def render(info: ErrorInfo, exc: Exception) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": f"https://bestow.dev/problems/{info.kind.replace('_', '-')}",
        "title": TITLES.get(info.status, "Error"),
        "status": info.status,
        "detail": info.message,
    }
    if info.field:
        body["field"] = info.field
    headers = dict(info.headers)
    if info.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return ProblemResponse(body, status_code=info.status, headers=headers)
