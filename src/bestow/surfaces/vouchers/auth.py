"""Voucher API authentication: an OAuth access token (``docs/oauth.md``) with the route's scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from bestow.clients.service import AuthenticatedClient
from bestow.deps import runtime_of
from bestow.oauth import bearer


def require(scope: str) -> Callable[..., Awaitable[AuthenticatedClient]]:
    async def dependency(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> AuthenticatedClient:
        runtime = runtime_of(request)
        async with runtime.db.session() as session:
            client = await bearer.authenticate(
                session,
                key=runtime.token_key,
                issuer=runtime.settings.oauth_issuer,
                authorization=authorization,
            )
        bearer.require_scope(client, scope)
        request.state.client_id = client.id
        return client

    return dependency


ReadCatalogue = Annotated[AuthenticatedClient, Depends(require("read_catalogue"))]
