"""FastAPI dependency aliases shared by every surface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.config import Settings
from bestow.kit.db import Database
from bestow.kit.idempotency import IdempotencyStore
from bestow.kit.ratelimit import RateLimiter
from bestow.kit.security import Sealer


@dataclass
class Runtime:
    """Everything the lifespan builds, reachable from a request."""

    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    idempotency: IdempotencyStore
    sealer: Sealer
    token_key: bytes = b""
    """Signs and checks OAuth access tokens (derived from the secret key)."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool."""
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.session() as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose writes the endpoint commits once, at the end."""
    async with runtime_of(request).db.write_session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
WriteSessionDep = Annotated[AsyncSession, Depends(get_write_session)]
