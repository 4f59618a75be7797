"""Checking ``Authorization: Bearer <access token>`` on the surfaces that take OAuth tokens.

The token's signature and expiry are checked without the database; the client is then read (each
surface may cache it briefly) so that a suspended client, or a scope taken away, stops working
before its tokens expire: the scopes in force are those of the token that the client still holds.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from bestow.clients import repository as repo
from bestow.clients.service import AuthenticatedClient
from bestow.kit.errors import Forbidden, Unauthenticated
from bestow.oauth import tokens
from bestow.surfaces.auth_cache import AuthCache


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("An access token is required: Authorization: Bearer <token>")
    return value.strip()


async def authenticate(
    session: AsyncSession,
    *,
    key: bytes,
    issuer: str,
    authorization: str | None,
    cache: AuthCache[AuthenticatedClient] | None = None,
) -> AuthenticatedClient:
    """The client of a valid token, with the scopes that both the token and the client hold.

    ``cache`` keeps the client read for a few seconds (``BESTOW_AUTH_CACHE_SECONDS``), which is
    how long a suspension or a removed scope may take to stop a live token in that process."""
    token = tokens.verify(key, bearer_token(authorization), issuer=issuer)
    held = cache.get((token.client_id,)) if cache is not None else None
    if held is None:
        client = await repo.get(session, token.client_id)
        if client is None or client.status != "active":
            raise Unauthenticated("The access token is no longer valid")
        held = AuthenticatedClient(
            id=client.id,
            name=client.name,
            scopes=frozenset(client.scopes),
            rate_limit_tier=client.rate_limit_tier,
            operator_id=client.operator_id,
        )
        if cache is not None:
            cache.put((token.client_id,), held)
    return replace(held, scopes=held.scopes & frozenset(token.scopes))


def require_scope(client: AuthenticatedClient, scope: str) -> None:
    if scope not in client.scopes:
        raise Forbidden(f"The access token does not carry the {scope} scope")
