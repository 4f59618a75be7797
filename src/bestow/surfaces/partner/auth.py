"""Partner API authentication: ``Authorization: Bearer``, ``X-ClientId`` and ``Accept-Version``."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.deps import runtime_of
from bestow.kit.errors import Forbidden, Invalid, Unauthenticated
from bestow.surfaces.auth_cache import AuthCache

API_VERSION = "v4.0"


def _cache(request: Request) -> AuthCache[AuthenticatedClient]:
    cache: AuthCache[AuthenticatedClient] = request.app.state.partner_auth_cache
    return cache


bearer = HTTPBearer(auto_error=False, description="The access token issued to the partner")
client_id_header = APIKeyHeader(
    name="X-ClientId", auto_error=False, description="The client id issued to the partner"
)


async def partner_client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_clientid: Annotated[str | None, Depends(client_id_header)],
    accept_version: Annotated[
        str | None, Header(alias="Accept-Version", description="Always v4.0")
    ] = None,
) -> AuthenticatedClient:
    """Authenticate, check the API version, then charge the client's rate limit.

    The credentials are read through security schemes (documented in OpenAPI, and cheaper per
    request than header parameters, which are validated one by one)."""
    token = credentials.credentials.strip() if credentials else ""
    if not token or not x_clientid:
        raise Unauthenticated("Missing or invalid credentials")
    runtime = runtime_of(request)
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
