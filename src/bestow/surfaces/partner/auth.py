"""Partner API authentication: ``Authorization: Bearer``, ``X-ClientId`` and ``Accept-Version``."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.deps import RuntimeDep
from bestow.kit.errors import Forbidden, Invalid, Unauthenticated
from bestow.surfaces.auth_cache import AuthCache

API_VERSION = "v4.0"


def _cache(request: Request) -> AuthCache[AuthenticatedClient]:
    cache: AuthCache[AuthenticatedClient] = request.app.state.partner_auth_cache
    return cache


async def partner_client(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(description="Bearer {access_token}")] = None,
    x_clientid: Annotated[str | None, Header(alias="X-ClientId")] = None,
    accept_version: Annotated[str | None, Header(alias="Accept-Version")] = None,
) -> AuthenticatedClient:
    """Authenticate, check the API version, then charge the client's rate limit."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not x_clientid:
        raise Unauthenticated("Missing or invalid credentials")
    token = token.strip()
    key = (x_clientid, hashlib.sha256(token.encode()).hexdigest())
    cache = _cache(request)
    client = cache.get(key)
    if client is None:
        async with runtime.db.session() as session:
            client = await clients.authenticate_secret(
                session, client_id=x_clientid, secret=token, kind=clients.PARTNER_TOKEN
            )
        if client is None:
            raise Unauthenticated("Missing or invalid credentials")
        cache.put(key, client)
    request.state.client_id = client.id
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
