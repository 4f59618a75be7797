"""Admin authentication: ``Authorization: Bearer`` with ``BESTOW_ADMIN_TOKEN`` or a stored token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from bestow.admins import tokens
from bestow.deps import RuntimeDep
from bestow.kit.actor import Actor
from bestow.kit.errors import Unauthenticated
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
    await auth_throttle.check(request)
    identity = await tokens.authenticate(runtime.db, token, configured=runtime.settings.admin_token)
    if identity is None:
        await auth_throttle.failed(request)
        raise Unauthenticated("Invalid admin token")
    request.state.client_id = identity.client_id
    return identity.actor(request.state.request_id)


AdminActor = Annotated[Actor, Depends(admin_actor)]
