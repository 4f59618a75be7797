"""Admin API tokens: the configured ``BESTOW_ADMIN_TOKEN`` and the tokens stored as digests.

A stored token is shown once, when it is made; only its SHA-256 digest is kept, and the digest is
the lookup key, so finding a row by it reveals nothing about other tokens. The configured token is
compared in constant time. Every caller (the Admin API's authentication, ``bestow admin-tokens``,
``bestow serve``'s first run, the demo) goes through this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import Database, WriteSession, utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.security import equal, generate_secret, hash_secret
from bestow.models import AdminToken

PREFIX = "bst_adm_"
FROM_ENVIRONMENT = "env"


@dataclass(frozen=True)
class AdminIdentity:
    """Who presented a valid token: ``token_id`` is ``env`` for the configured one."""

    token_id: str
    name: str

    @property
    def client_id(self) -> str:
        """The key rate limits and logs know an admin caller by."""
        return "admin" if self.token_id == FROM_ENVIRONMENT else f"admin:{self.token_id}"

    def actor(self, request_id: str | None = None) -> Actor:
        return Actor(f"admin:{self.name}", request_id)


async def store_token(session: WriteSession, *, name: str) -> tuple[AdminToken, str]:
    """Make a token without an audit record: for those the deployment makes itself (the first
    run of ``bestow serve``, the demo). Returns the row and the token, shown this once."""
    secret = generate_secret(PREFIX)
    token = AdminToken(name=name, token_hash=hash_secret(secret))
    session.add(token)
    await session.flush()
    return token, secret


async def create_token(session: WriteSession, *, name: str, actor: Actor) -> tuple[AdminToken, str]:
    """Make a named token for someone; returns the row and the token, shown this once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("the name is 1-100 characters", field="name")
    secret = generate_secret(PREFIX)
    token = AdminToken(name=name, token_hash=hash_secret(secret), created_at=utcnow())
    session.add(token)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="admin_token.created",
        target_type="admin_token",
        target_id=token.id,
        changes={"name": token.name},
    )
    return token, secret


async def revoke_token(session: WriteSession, *, token_id: str, actor: Actor) -> AdminToken:
    token = await session.get(AdminToken, token_id)
    if token is None:
        raise NotFound(f"admin token {token_id} not found")
    if token.revoked_at is not None:
        raise Conflict(f"admin token {token_id} is already revoked")
    token.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="admin_token.revoked",
        target_type="admin_token",
        target_id=token.id,
    )
    return token


async def list_tokens(session: AsyncSession) -> list[AdminToken]:
    """Every stored token, revoked ones included, oldest first."""
    return list(await session.scalars(select(AdminToken).order_by(AdminToken.id)))


async def ensure_token(session: WriteSession, *, name: str = "first-run") -> str | None:
    """Make a first token when none is stored; returns it (to show once), or None when one
    exists. The caller skips this when ``BESTOW_ADMIN_TOKEN`` is configured."""
    if await session.scalar(select(AdminToken.id).limit(1)):
        return None
    _, secret = await store_token(session, name=name)
    return secret


async def authenticate(
    db: Database, presented: str, *, configured: str | None
) -> AdminIdentity | None:
    """The admin a presented token stands for, or None: the configured token first (constant
    time, no database read), then a stored, unrevoked token by its digest."""
    if configured and equal(presented, configured):
        return AdminIdentity(FROM_ENVIRONMENT, FROM_ENVIRONMENT)
    async with db.session() as session:
        stored = await session.scalar(
            select(AdminToken).where(
                AdminToken.token_hash == hash_secret(presented), AdminToken.revoked_at.is_(None)
            )
        )
    return None if stored is None else AdminIdentity(stored.id, stored.name)
