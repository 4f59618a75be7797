"""OAuth 2.0 errors (RFC 6749 section 5.2): ``{"error", "error_description"}``."""

from __future__ import annotations

from typing import Any

from bestow.kit.errors import DomainError
from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(DomainError):
    """An error with its RFC 6749 code: ``invalid_request``, ``invalid_client``,
    ``unsupported_grant_type``, ``invalid_scope``."""

    code = "oauth"

    def __init__(
        self, error: str, message: str, *, status: int = 400, basic: bool = False, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.error = error
        self.status = status
        self.basic = basic


def _generic(info: ErrorInfo) -> str:
    if info.status == 401:
        return "invalid_client"
    if info.status in (429, 503):
        return "temporarily_unavailable"
    if info.status >= 500:
        return "server_error"
    return "invalid_request"


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    headers = {**info.headers, **NO_STORE}
    if isinstance(exc, OAuthError):
        if exc.basic:
            # The client tried HTTP Basic: answer with the scheme it should use (RFC 6749 5.2).
            headers["WWW-Authenticate"] = 'Basic realm="bestow"'
        body = {"error": exc.error, "error_description": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=headers)
    body = {"error": _generic(info), "error_description": info.message}
    return JSONResponse(body, status_code=info.status, headers=headers)
