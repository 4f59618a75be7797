"""OAuth bearer authentication for the surfaces that take ``/oauth2/token`` access tokens (the
Voucher and Loyalty APIs): the token, the route's scope, then the client's rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request

from bestow.clients.service import AuthenticatedClient
from bestow.deps import runtime_of
from bestow.kit.auth_cache import AuthCache
from bestow.kit.errors import Unauthenticated
from bestow.oauth import bearer
from bestow.surfaces import auth_throttle, common


def _cache(request: Request) -> AuthCache[AuthenticatedClient]:
    state = request.app.state
    cache: AuthCache[AuthenticatedClient] | None = getattr(state, "bearer_client_cache", None)
    if cache is None:
        cache = AuthCache(runtime_of(request).settings.auth_cache_seconds)
        state.bearer_client_cache = cache
    return cache


def require(scope: str) -> Callable[..., Awaitable[AuthenticatedClient]]:
    async def dependency(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> AuthenticatedClient:
        runtime = runtime_of(request)
        await auth_throttle.check(request)
        try:
            async with runtime.db.session() as session:
                client = await bearer.authenticate(
                    session,
                    key=runtime.token_key,
                    issuer=runtime.settings.oauth_issuer,
                    authorization=authorization,
                    cache=_cache(request),
                )
        except Unauthenticated:
            await auth_throttle.failed(request)
            raise
        await common.identify(request, client)
        bearer.require_scope(client, scope)
        await runtime.rate_limiter.hit(client.id, client.rate_limit_tier)
        return client

    return dependency
