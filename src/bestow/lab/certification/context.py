"""What a judge reads: the window's requests of the client on the surface, oldest first, and
a session to read the client's data (its campaigns, jobs, vouchers, webhook deliveries).

The requests are loaded once per report as plain tuples of the columns the judges use (no ORM
objects): a window of 100,000 requests loads in about 0.5 s and is judged against every Partner
item in about 1.5 s on PostgreSQL (``bench/certification.py``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import CursorResult, DateTime, Text, cast, select, type_coerce
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

_LOG = RequestLogEntry.__table__.c
_JSON_COLUMNS = ("headers_present", "header_values", "body")
_COLUMNS = tuple(
    cast(_LOG[name], Text()).label(name)
    if name in _JSON_COLUMNS
    else type_coerce(_LOG[name], DateTime()).label(name)
    if name == "created_at"
    else _LOG[name]
    for name in (
        "seq",
        "request_id",
        "created_at",
        "surface",
        "method",
        "route",
        "status",
        "latency_ms",
        "idempotency_key",
        "headers_present",
        "header_values",
        "error_code",
        "replayed",
        "rate_limited",
        "fault",
        "body",
        "fingerprint",
        "object_id",
        "retry_after",
    )
)
"""The columns judges read, as the driver gives them: the JSON columns as their text (parsed
once per distinct text: most requests share their headers' set and values) and the time
without the ORM's per-row conversion (PostgreSQL gives it aware; SQLite as text)."""


class Req(NamedTuple):
    """One logged request, as judged. ``t`` is its time in seconds (for intervals).

    Immutable; a named tuple rather than a dataclass because a window holds up to hundreds of
    thousands of them and a tuple is made ten times faster (``bench/certification.py``).
    ``headers``, ``values`` and ``body`` are shared between the requests that have the same
    ones: never change them."""

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
        counts = self.body.get("counts")
        return int(counts.get(name, 0)) if counts else 0


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
    _index: tuple[list[Req], int, dict[str, list[int]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def on(self, *endpoints: str) -> Iterator[Req]:
        """The requests to these endpoints (``"POST /partner/campaigns/issue"``), in order.

        Found through an index of the requests by endpoint, made on the first call: judges ask
        for a few endpoints each, over windows of up to hundreds of thousands of requests."""
        index = self._endpoint_index()
        found = [index[e] for e in dict.fromkeys(endpoints) if e in index]
        requests = self.requests
        if len(found) == 1:
            return (requests[i] for i in found[0])
        return (requests[i] for i in heapq.merge(*found))

    def _endpoint_index(self) -> dict[str, list[int]]:
        requests = self.requests
        made = self._index
        if made is not None and made[0] is requests and made[1] == len(requests):
            return made[2]
        index: dict[str, list[int]] = {}
        for at, r in enumerate(requests):
            index.setdefault(f"{r.method} {r.route}", []).append(at)
        self._index = (requests, len(requests), index)
        return index

    def of_surface(self, surface: str | None = None) -> Iterator[Req]:
        """The requests on the checklist's own surface (not the token endpoint's)."""
        name = surface or self.surface
        return (r for r in self.requests if r.surface == name)


async def load_requests(
    session: AsyncSession, client_id: str, surface: str, window: Window
) -> list[Req]:
    """The window's requests of the client for the surface, oldest first.

    Read as plain rows (no ORM object, no per-row type conversion); requests that share their
    header names, header values or body share the same (read-only) ``headers``, ``values`` and
    ``body`` objects."""
    stmt = (
        select(*_COLUMNS)
        .where(
            _LOG.client_id == client_id,
            _LOG.surface.in_(SURFACE_LOGS[surface]),
            _LOG.created_at >= window.since,
            _LOG.created_at < window.until,
        )
        .order_by(_LOG.created_at, _LOG.seq)
    )
    result = await session.execute(stmt)
    if isinstance(result, CursorResult):
        # The driver's rows as they are: the columns need no conversion, and making a
        # SQLAlchemy row of each would cost as much as the rest of the loading.
        rows: Sequence[Any] = result.cursor.fetchall()
        result.close()
    else:  # pragma: no cover (another driver's result)
        rows = result.tuples().all()
    names: dict[str | None, frozenset[str]] = {None: frozenset()}
    values: dict[str | None, dict[str, str]] = {None: {}}
    bodies: dict[str | None, dict[str, Any]] = {None: {}}
    strings: dict[str, str] = {}
    out: list[Req] = []
    append = out.append
    make = tuple.__new__
    for (
        seq, request_id, created, surf, method, route, status, latency, key, present, shown,
        error_code, replayed, rate_limited, fault, body, fp, object_id, retry,
    ) in rows:  # fmt: skip
        if present not in names:
            names[present] = frozenset(orjson.loads(present) or ())
        if shown not in values:
            values[shown] = orjson.loads(shown) or {}
        parsed = bodies.get(body)
        if parsed is None:
            parsed = orjson.loads(body) or {}
            if not parsed.get("sha256"):  # bodies without a hash repeat: keep one of each
                bodies[body] = parsed
        if isinstance(created, str):  # SQLite: naive UTC text
            created = datetime.fromisoformat(created).replace(tzinfo=UTC)
        elif created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        elif created.tzinfo is not UTC:
            created = created.astimezone(UTC)
        append(
            make(Req, (
                seq, request_id, created, created.timestamp(),
                strings.setdefault(surf, surf), strings.setdefault(method, method),
                strings.setdefault(route, route), status, latency, key, names[present],
                values[shown], error_code, bool(replayed), bool(rate_limited), fault, parsed, fp,
                object_id, retry,
            ))
        )  # fmt: skip
    return out
