"""The runtime: the database, limiter, idempotency store and keys a process works with.

The API builds one in its lifespan, the CLI one per command. This module imports neither FastAPI
nor the API surfaces, so a CLI command that only needs the database does not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bestow.config import Settings
from bestow.kit.db import Database, utcnow
from bestow.kit.idempotency import IdempotencyStore
from bestow.kit.ratelimit import RateLimiter
from bestow.kit.security import Sealer, load_secret_key
from bestow.oauth import tokens


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
    clock: Callable[[], datetime] = utcnow
    """The time that time-derived statuses are judged at (Operator API); tests move it."""


def build_runtime(settings: Settings) -> Runtime:
    secret_key = load_secret_key(settings)
    sealer = Sealer(secret_key)
    db = Database(settings.database_url, pool_size=settings.db_pool_size, sealer=sealer)
    return Runtime(
        settings=settings,
        db=db,
        rate_limiter=RateLimiter(settings),
        idempotency=IdempotencyStore(db, settings),
        sealer=sealer,
        token_key=tokens.signing_key(secret_key),
    )
