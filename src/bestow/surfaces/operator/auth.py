"""Operator API authentication (Gamnify-compatible): a plain SHA-256 hash over the request.

``X-AUTH-OPERATOR-ID`` names the operator (the client's ``operator_id``);
``X-AUTH-REQUEST-HASH`` is the lowercase hex SHA-256 of ``shared key + relative URL + raw body``:
the relative URL is the path, its trailing slashes trimmed, and the query string as sent (a
slash appended to a signed query changes the hash); the body is empty for a GET. Either of the
operator's active keys (``primary``, ``secondary``) is accepted, each compared in constant time.
``X-AUTH-REQUEST-HASH-BYPASS: true`` skips the hash outside production only; in production it is
ignored.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Request

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.deps import runtime_of
from bestow.kit.auth_cache import AuthCache
from bestow.kit.errors import Forbidden, Unauthenticated
from bestow.kit.security import equal
from bestow.lab import environments
from bestow.surfaces import auth_throttle, common

SCOPE = "operator.campaigns"
OPERATOR_ID = "x-auth-operator-id"
REQUEST_HASH = "x-auth-request-hash"
BYPASS = "x-auth-request-hash-bypass"
MAX_OPERATOR_ID = 2_147_483_647

MISSING_OPERATOR = "X-AUTH-OPERATOR-ID header is required and must be a positive integer"
MISSING_HASH = "X-AUTH-REQUEST-HASH header is required"
REFUSED = (
    "Authentication failed: X-AUTH-REQUEST-HASH does not match the operator's shared key "
    "over the relative URL and the request body"
)

Keys = tuple[AuthenticatedClient | None, list[str]]
"""An operator and its keys; ``None`` and a decoy key for an operator id that authenticates
nothing (see ``clients.operator_keys``)."""

HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-AUTH-OPERATOR-ID",
        "in": "header",
        "required": True,
        "description": "The operator id",
        "schema": {"type": "integer"},
    },
    {
        "name": "X-AUTH-REQUEST-HASH",
        "in": "header",
        "required": True,
        "description": "Lowercase hex SHA-256 of shared key + relative URL + raw body",
        "schema": {"type": "string"},
    },
]
"""The headers every Operator API operation takes, as OpenAPI parameters (see ``document``)."""


def relative_url(request: Request) -> str:
    """The path as sent with its trailing slashes trimmed, then the query string untouched.

    Only the path is trimmed: trimming after the query would let ``/`` or ``///`` be appended to
    a signed query (changing a parameter's value) and still match."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw.decode("latin-1").split("?", 1)[0].rstrip("/")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def request_hash(key: str, url: str, body: bytes) -> str:
    return hashlib.sha256(key.encode() + url.encode() + body).hexdigest()


def _cache(request: Request) -> AuthCache[Keys]:
    cache: AuthCache[Keys] = request.app.state.operator_auth_cache
    return cache


def _operator_id(value: str | None) -> int:
    try:
        operator_id = int(value or "")
    except ValueError:
        raise Unauthenticated(MISSING_OPERATOR) from None
    if not 0 < operator_id <= MAX_OPERATOR_ID:
        raise Unauthenticated(MISSING_OPERATOR)
    return operator_id


async def _keys(request: Request, operator_id: int) -> Keys:
    """The operator's keys; unknown operators are cached too, so that a cached known one is not
    told apart from an unknown one by its speed."""
    cache = _cache(request)
    found = cache.get((str(operator_id),))
    if found is None:
        runtime = runtime_of(request)
        async with runtime.db.session() as session:
            found = await clients.operator_keys(session, runtime.sealer, operator_id=operator_id)
        cache.put((str(operator_id),), found)
    return found


async def operator_client(request: Request) -> AuthenticatedClient:
    """Authenticate the request's hash, check the scope, then charge the rate limit."""
    headers = request.headers
    operator_id = _operator_id(headers.get(OPERATOR_ID))
    runtime = runtime_of(request)
    asked = (headers.get(BYPASS) or "").strip().lower() == "true"
    presented = (headers.get(REQUEST_HASH) or "").strip().lower()
    if not asked and not presented:
        raise Unauthenticated(MISSING_HASH)
    await auth_throttle.check(request, f"operator:{operator_id}")
    client, keys = await _keys(request, operator_id)
    # The bypass follows the operator's environment: a production client's request is judged
    # by its hash, bypass header or not.
    bypass = asked and client is not None and environments.allows_hash_bypass(client.environment)
    if asked and not bypass and not presented:
        await auth_throttle.failed(request, f"operator:{operator_id}")
        raise Unauthenticated(MISSING_HASH)
    matched = bypass
    if not bypass:
        url = relative_url(request)
        body = await request.body()
        for key in keys:  # every key is tried: timing tells nothing about which one matched
            matched |= equal(request_hash(key, url, body), presented)
    if client is None or not matched:
        # An unknown operator reads like a wrong hash: which of the two is not said.
        await auth_throttle.failed(request, f"operator:{operator_id}")
        raise Unauthenticated(REFUSED)
    await common.identify(request, client)
    if SCOPE not in client.scopes:
        raise Forbidden(f"This operator lacks the {SCOPE} scope")
    await runtime.rate_limiter.hit(client.id, client.rate_limit_tier)
    return client


OperatorClient = Annotated[AuthenticatedClient, Depends(operator_client)]


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the Operator API's headers to each of its operations in an OpenAPI document."""
    for path, operations in openapi.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            params = operation.setdefault("parameters", [])
            names = {p.get("name", "").lower() for p in params}
            params[:0] = [h for h in HEADERS if h["name"].lower() not in names]
    return openapi
