"""OAuth 2.0 errors (RFC 6749 section 5.2): ``{"error", "error_description"}``.

The one place where domain errors get their RFC 6749 codes: ``UnsupportedGrantType`` and
``InvalidScope`` (``bestow.oauth.grant``) theirs, a failed client authentication (401)
``invalid_client``, any other refusal ``invalid_request``. An ``Unauthenticated`` raised with
``scheme=BASIC`` (the client tried HTTP Basic) is answered with ``WWW-Authenticate: Basic``, the
scheme it should use (RFC 6749 5.2).
"""

from __future__ import annotations

from bestow.kit.errors import Unauthenticated
from bestow.kit.responses import JSONResponse
from bestow.oauth.grant import InvalidScope, UnsupportedGrantType
from bestow.surfaces.common import ErrorInfo

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BASIC = "basic"
"""``Unauthenticated(..., scheme=BASIC)``: the client authenticated (or tried to) by HTTP Basic."""


def error_code(info: ErrorInfo, exc: Exception) -> str:
    if isinstance(exc, UnsupportedGrantType):
        return "unsupported_grant_type"
    if isinstance(exc, InvalidScope):
        return "invalid_scope"
    if info.status == 401:
        return "invalid_client"
    if info.status in (429, 503):
        return "temporarily_unavailable"
    if info.status >= 500:
        return "server_error"
    return "invalid_request"


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    headers = {**info.headers, **NO_STORE}
    if isinstance(exc, Unauthenticated) and exc.details.get("scheme") == BASIC:
        headers["WWW-Authenticate"] = 'Basic realm="bestow"'
    body = {"error": error_code(info, exc), "error_description": info.message}
    return JSONResponse(body, status_code=info.status, headers=headers)
