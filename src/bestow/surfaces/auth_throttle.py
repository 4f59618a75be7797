"""Throttling of failed authentication, the same on every surface.

Before a request's credentials are checked, its source address and the identity it claims (a
client id, an operator id; none for admin tokens and bearer tokens) are tested against their
failed attempts of the last minute (``BESTOW_AUTH_FAILURES_PER_ADDRESS``, ``..._PER_IDENTITY``);
over either, the request is refused with 429 and ``Retry-After`` in the surface's shape, right
credentials or not, so that a guesser learns nothing more. A failure is charged to both; a
success never is. The counters live in the rate limiter's storage (Redis when configured).
"""

from __future__ import annotations

from fastapi import Request

from bestow.deps import runtime_of


def source_address(request: Request) -> str:
    """The client's address as the server sees it (behind a reverse proxy, the forwarded one
    when the server trusts the proxy: ``docs/running.md``)."""
    return request.client.host if request.client else "unknown"


async def check(request: Request, identity: str | None = None) -> None:
    """Refuse (``RateLimited``) a source or an identity that failed too often lately."""
    await runtime_of(request).rate_limiter.check_auth_failures(
        address=source_address(request), identity=identity
    )


async def failed(request: Request, identity: str | None = None) -> None:
    """Count one failed authentication of this source and identity."""
    await runtime_of(request).rate_limiter.charge_auth_failure(
        address=source_address(request), identity=identity
    )
