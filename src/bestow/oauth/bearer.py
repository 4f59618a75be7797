"""Checking ``Authorization: Bearer <access token>`` on the surfaces that take OAuth tokens.

The token's signature and expiry are checked without the database; the client and the credential
that minted the token (its ``cred`` claim) are then read (each surface may cache them briefly) so
that a suspended client, a scope taken away or a revoked secret stops working before its tokens
expire: the scopes in force are those of the token that the client still holds.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.kit.auth_cache import AuthCache
from bestow.kit.errors import Forbidden, Unauthenticated
from bestow.oauth import tokens


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

    ``cache`` keeps what was read for a few seconds (``BESTOW_AUTH_CACHE_SECONDS``), which is
    how long a suspension, a removed scope or a revoked secret may take to stop a live token in
    that process."""
    token = tokens.verify(key, bearer_token(authorization), issuer=issuer)
    cache_key = (token.client_id, token.credential_id)
    held = cache.get(cache_key) if cache is not None else None
    if held is None:
        held = await clients.credential_in_force(
            session,
            client_id=token.client_id,
            credential_id=token.credential_id,
            kind=clients.OAUTH_SECRET,
        )
        if held is None:
            raise Unauthenticated("The access token is no longer valid")
        if cache is not None:
            cache.put(cache_key, held)
    return replace(held, scopes=held.scopes & frozenset(token.scopes))


def require_scope(client: AuthenticatedClient, scope: str) -> None:
    if scope not in client.scopes:
        raise Forbidden(f"The access token does not carry the {scope} scope")
