"""Partner API authentication: ``Authorization: Bearer``, ``X-ClientId`` and ``Accept-Version``."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.deps import runtime_of
from bestow.kit.auth_cache import AuthCache
from bestow.kit.errors import Forbidden, Invalid, Unauthenticated
from bestow.surfaces import auth_throttle, common

API_VERSION = "v4.0"


def _cache(request: Request) -> AuthCache[AuthenticatedClient]:
    cache: AuthCache[AuthenticatedClient] = request.app.state.partner_auth_cache
    return cache


HEADERS: list[dict[str, Any]] = [
    {
        "name": "Authorization",
        "in": "header",
        "required": True,
        "description": "Bearer {access_token}",
        "schema": {"type": "string"},
    },
    {
        "name": "X-ClientId",
        "in": "header",
        "required": True,
        "description": "The client id issued to the partner",
        "schema": {"type": "string"},
    },
    {
        "name": "Accept-Version",
        "in": "header",
        "required": True,
        "description": "The API version",
        "schema": {"type": "string", "enum": [API_VERSION]},
    },
]
"""The headers every Partner API operation takes, as OpenAPI parameters (see ``document``)."""


async def partner_client(request: Request) -> AuthenticatedClient:
    """Authenticate, check the API version, then charge the client's rate limit.

    The three headers are read straight from the request: declared as FastAPI ``Header()``
    parameters they would be extracted and validated one by one on every call, which costs more
    than the rest of a cached discovery request. ``document`` puts them in the OpenAPI document.
    """
    headers = request.headers
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    token = token.strip()
    x_clientid = headers.get("x-clientid")
    accept_version = headers.get("accept-version")
    if scheme.lower() != "bearer" or not token or not x_clientid:
        raise Unauthenticated("Missing or invalid credentials")
    runtime = runtime_of(request)
    await auth_throttle.check(request, x_clientid)
    key = (x_clientid, hashlib.sha256(token.encode()).hexdigest())
    cache = _cache(request)
    client = cache.get(key)
    if client is None:
        async with runtime.db.session() as session:
            client = await clients.authenticate_secret(
                session, client_id=x_clientid, secret=token, kind=clients.PARTNER_TOKEN
            )
        if client is None:
            await auth_throttle.failed(request, x_clientid)
            raise Unauthenticated("Missing or invalid credentials")
        cache.put(key, client)
    await common.identify(request, client)
    if accept_version is None:
        raise Invalid("Accept-Version header is required; send Accept-Version: v4.0")
    if accept_version.strip() != API_VERSION:
        raise Invalid(f"Accept-Version {accept_version!r} is not supported; use {API_VERSION}")
    await runtime.rate_limiter.hit(client.id, client.rate_limit_tier)
    return client


PartnerClient = Annotated[AuthenticatedClient, Depends(partner_client)]


def require_scope(scope: str) -> Callable[[AuthenticatedClient], Awaitable[AuthenticatedClient]]:
    async def check(client: PartnerClient) -> AuthenticatedClient:
        if scope not in client.scopes:
            raise Forbidden(f"This credential lacks the {scope} scope")
        return client

    return check


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the Partner API's headers to each of its operations in an OpenAPI document."""
    for path, operations in openapi.get("paths", {}).items():
        if not path.startswith("/partner/"):
            continue
        for operation in operations.values():
            params = operation.setdefault("parameters", [])
            names = {p.get("name", "").lower() for p in params}
            params[:0] = [h for h in HEADERS if h["name"].lower() not in names]
    return openapi
