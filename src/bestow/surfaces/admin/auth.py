"""Admin authentication: ``Authorization: Bearer`` with ``BESTOW_ADMIN_TOKEN`` or a stored token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select

from bestow.deps import RuntimeDep
from bestow.kit.actor import Actor
from bestow.kit.errors import Unauthenticated
from bestow.kit.security import equal, hash_secret
from bestow.models import AdminToken
from bestow.surfaces import auth_throttle


async def admin_actor(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(description="Bearer {admin_token}")] = None,
) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("An admin bearer token is required")
    request_id = request.state.request_id
    await auth_throttle.check(request)
    configured = runtime.settings.admin_token
    if configured and equal(token, configured):
        request.state.client_id = "admin"
        return Actor("admin:env", request_id)
    # The digest is the lookup key: finding a row by it reveals nothing about other tokens.
    async with runtime.db.session() as session:
        stored = await session.scalar(
            select(AdminToken).where(
                AdminToken.token_hash == hash_secret(token), AdminToken.revoked_at.is_(None)
            )
        )
    if stored is None:
        await auth_throttle.failed(request)
        raise Unauthenticated("Invalid admin token")
    request.state.client_id = f"admin:{stored.id}"
    return Actor(f"admin:{stored.name}", request_id)


AdminActor = Annotated[Actor, Depends(admin_actor)]
