"""What a judge reads: the window's requests of the client on the surface, oldest first, and
a session to read the client's data (its campaigns, jobs, vouchers, webhook deliveries).

The requests are loaded once per report as plain tuples of the columns the judges use (no ORM
objects): a window of 100,000 requests is judged in a few seconds (``bench/certification.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.models import Client, RequestLogEntry

SURFACE_LOGS: dict[str, tuple[str, ...]] = {
    "partner": ("partner",),
    "vouchers": ("vouchers", "oauth"),
    "loyalty": ("loyalty", "oauth"),
    "operator": ("operator",),
}
"""The request-log surfaces judged for each checklist: the OAuth token endpoint belongs to
the Voucher and Loyalty integrations."""

_COLUMNS = (
    RequestLogEntry.seq,
    RequestLogEntry.request_id,
    RequestLogEntry.created_at,
    RequestLogEntry.surface,
    RequestLogEntry.method,
    RequestLogEntry.route,
    RequestLogEntry.status,
    RequestLogEntry.latency_ms,
    RequestLogEntry.idempotency_key,
    RequestLogEntry.headers_present,
    RequestLogEntry.header_values,
    RequestLogEntry.error_code,
    RequestLogEntry.replayed,
    RequestLogEntry.rate_limited,
    RequestLogEntry.fault,
    RequestLogEntry.body,
    RequestLogEntry.fingerprint,
    RequestLogEntry.object_id,
    RequestLogEntry.retry_after,
)


@dataclass(frozen=True, slots=True)
class Req:
    """One logged request, as judged. ``t`` is its time in seconds (for intervals)."""

    seq: int
    request_id: str
    time: datetime
    t: float
    surface: str
    method: str
    route: str
    status: int
    latency_ms: float
    idempotency_key: str | None
    headers: frozenset[str]
    values: dict[str, str]
    error_code: str | None
    replayed: bool
    rate_limited: bool
    fault: str | None
    body: dict[str, Any]
    fingerprint: str | None
    object_id: str | None
    retry_after: float | None

    @property
    def endpoint(self) -> str:
        """``METHOD /route/template``, as fault rules and filters name routes."""
        return f"{self.method} {self.route}"

    @property
    def has_body(self) -> bool:
        return bool(self.body.get("bytes"))

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def count(self, name: str) -> int:
        """A count the route noted of the body (``identifiers.email``, ``quantity``...)."""
        return int((self.body.get("counts") or {}).get(name, 0))


@dataclass(frozen=True)
class Window:
    """The judged time range, ``[since, until)``, and the run it belongs to, if any."""

    since: datetime
    until: datetime
    run_id: str | None = None
    source: str = "given"
    """``run`` (a certification run's window), ``given`` (since/until asked for) or
    ``retention`` (the request log's whole retention: no run and nothing asked)."""


@dataclass
class Context:
    """Everything a judge may read; what several judges need is computed once in ``memo``.

    ``requests`` are in the order they were answered (with several server processes, the
    order of their times, not of their recording)."""

    session: AsyncSession
    client: Client
    surface: str
    window: Window
    requests: list[Req]
    memo: dict[str, Any] = field(default_factory=dict)

    def on(self, *endpoints: str) -> Iterator[Req]:
        """The requests to these endpoints (``"POST /partner/campaigns/issue"``), in order."""
        wanted = set(endpoints)
        return (r for r in self.requests if r.endpoint in wanted)

    def of_surface(self, surface: str | None = None) -> Iterator[Req]:
        """The requests on the checklist's own surface (not the token endpoint's)."""
        name = surface or self.surface
        return (r for r in self.requests if r.surface == name)


async def load_requests(
    session: AsyncSession, client_id: str, surface: str, window: Window
) -> list[Req]:
    stmt = (
        select(*_COLUMNS)
        .where(
            RequestLogEntry.client_id == client_id,
            RequestLogEntry.surface.in_(SURFACE_LOGS[surface]),
            RequestLogEntry.created_at >= window.since,
            RequestLogEntry.created_at < window.until,
        )
        .order_by(RequestLogEntry.created_at, RequestLogEntry.seq)
    )
    result = await session.execute(stmt)
    out = []
    for row in result:
        (
            seq,
            request_id,
            created,
            surf,
            method,
            route,
            status,
            latency,
            key,
            present,
            values,
            error_code,
            replayed,
            rate_limited,
            fault,
            body,
            fp,
            object_id,
            retry,
        ) = row
        out.append(
            Req(
                seq, request_id, created, created.timestamp(), surf, method, route, status,
                latency, key, frozenset(present or ()), values or {}, error_code,
                bool(replayed), bool(rate_limited), fault, body or {}, fp, object_id, retry,
            )
        )  # fmt: skip
    return out
