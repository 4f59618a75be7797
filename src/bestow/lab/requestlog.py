"""The request log: every request of an identified client on a client surface, as it was asked
and answered, so that an integrator (and the certification report) can see their own calls
(``docs/lab.md``, "Request log").

The recorder runs on the hot path of every request, so it only builds a row and appends it to an
in-process buffer; a task started in the application's lifespan writes the buffer in one
multi-row insert every ``FLUSH_SECONDS`` (sooner when ``FLUSH_ROWS`` wait), and once more on
shutdown. The buffer is bounded: while the database cannot take the rows, the oldest are dropped
and counted (``bestow_request_log_dropped_total``); a request is never delayed nor failed by its
log.

A row never holds a credential, an email, a phone or another personal value: header values only
of ``Accept-Version``, ``Content-Type`` and ``User-Agent``; the body only as its fingerprint
(sha256, size, and counts such as identifiers per type); never a query string nor a path's
values (the request as a whole only as a hash, ``fingerprint``, to tell a repeat).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import Select, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.config import Environment, Settings
from bestow.kit.db import Database, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.logging import BODY_BYTES, BODY_HASH
from bestow.lab import environments
from bestow.models import RequestLogEntry

log = structlog.get_logger("bestow.requestlog")

DROPPED = Counter(
    "bestow_request_log_dropped_total",
    "Request log rows dropped because the buffer was full (the database did not take them)",
)
WRITTEN = Counter("bestow_request_log_written_total", "Request log rows written")

FLUSH_SECONDS = 0.5
FLUSH_ROWS = 500
"""A flush is started early when this many rows wait."""
CAPACITY = 20_000
"""Rows the buffer holds while the database does not take them; beyond, the oldest are dropped."""
WRITE_TIMEOUT_SECONDS = 10.0
PRUNE_BATCH = 5_000
"""Rows one retention statement deletes: each batch is a short transaction."""
PRUNE_BATCHES_PER_SWEEP = 20

NOTED = "request_log"
"""``scope["state"]`` key of what the routes note (``surfaces.common.note``)."""

_MAX_VALUE = 200


@dataclass(frozen=True)
class SurfaceHeaders:
    """A surface's name and the headers it asks for, in the request's lower case and as shown."""

    name: str
    prefix: str
    headers: tuple[tuple[bytes, str], ...]
    idempotency_header: bytes | None
    hashes_body: bool = True
    """False for the token endpoint: its body holds the client secret."""


def _headers(*names: str) -> tuple[tuple[bytes, str], ...]:
    return tuple((name.lower().encode(), name) for name in names)


SURFACES = (
    SurfaceHeaders(
        "partner",
        "/partner",
        _headers(
            "Authorization", "X-ClientId", "Accept-Version", "Content-Type", "X-Idempotency-Key"
        ),
        b"x-idempotency-key",
    ),
    SurfaceHeaders(
        "vouchers",
        "/v3",
        _headers("Authorization", "Content-Type", "Idempotency-Key"),
        b"idempotency-key",
    ),
    SurfaceHeaders(
        "loyalty",
        "/client",
        _headers("Authorization", "Content-Type", "Idempotency-Key"),
        b"idempotency-key",
    ),
    SurfaceHeaders(
        "operator",
        "/v1",
        _headers(
            "X-AUTH-OPERATOR-ID",
            "X-AUTH-REQUEST-HASH",
            "X-AUTH-REQUEST-HASH-BYPASS",
            "Content-Type",
        ),
        None,
    ),
    SurfaceHeaders(
        "oauth", "/oauth2", _headers("Authorization", "Content-Type"), None, hashes_body=False
    ),
)
SURFACE_NAMES = tuple(s.name for s in SURFACES)
SHOWN_VALUES = _headers("Accept-Version", "Content-Type", "User-Agent")
"""The only header values kept: none of them is a credential or a personal value."""


def surface_of(path: str) -> SurfaceHeaders | None:
    for surface in SURFACES:
        if path.startswith(surface.prefix) and (
            len(path) == len(surface.prefix) or path[len(surface.prefix)] == "/"
        ):
            return surface
    return None


def _text(value: bytes) -> str:
    return value.decode("latin-1")[:_MAX_VALUE]


class RequestLog:
    """The buffer and its writer: ``record`` from the request path, ``run`` as a task."""

    def __init__(
        self,
        db: Database,
        *,
        enabled: bool = True,
        production_share: float = 0.0,
        capacity: int = CAPACITY,
        flush_seconds: float = FLUSH_SECONDS,
        flush_rows: int = FLUSH_ROWS,
    ) -> None:
        self.db = db
        self.enabled = enabled
        self.production_share = production_share
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.dropped = 0
        self._rows: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> RequestLog:
        return cls(
            db,
            enabled=settings.request_log,
            production_share=settings.request_log_production_share,
        )

    @property
    def pending(self) -> int:
        return len(self._rows)

    def may_keep(self, environment: str) -> bool:
        """Whether a request of a client of ``environment`` may be recorded: the log is on and,
        for production, a share of its requests is drawn. What only the log reads need not be
        worked out otherwise (``surfaces.common.logged``)."""
        return self.enabled and (
            not environments.is_production(environment) or self.production_share > 0
        )

    def wants_body(self, path: str) -> bool:
        """Whether the middleware should fingerprint this request's body as it streams."""
        return self.enabled and surface_of(path) is not None

    def record(self, scope: dict[str, Any], status: int, elapsed: float) -> None:
        """The ``kit.logging.Recorder``: one row for a request of an identified client on a
        client surface; nothing otherwise. Never raises into the request."""
        if not self.enabled:
            return
        state = scope.get("state") or {}
        client_id = state.get("client_id")
        if client_id is None:
            return
        surface = surface_of(scope["path"])
        if surface is None:
            return
        environment = state.get("environment") or Environment.DEMO.value
        if not self.may_keep(environment) or (
            environments.is_production(environment) and random.random() >= self.production_share
        ):
            return
        try:
            row = _row(scope, state, surface, client_id, environment, status, elapsed)
        except Exception:  # a row that cannot be built is not worth a failed request
            log.warning("request_log_unrecordable", exc_info=True)
            return
        self.append(row)

    def append(self, row: dict[str, Any]) -> None:
        if len(self._rows) >= self.capacity:
            self._rows.popleft()
            self._drop(1)
        self._rows.append(row)
        if len(self._rows) >= self.flush_rows:
            self._wake.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        DROPPED.inc(count)

    async def run(self) -> None:
        """Flush every ``flush_seconds`` (or when ``flush_rows`` wait) until ``stop``."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            await self.flush()

    async def stop(self) -> None:
        """Stop the loop and write what is left (once; a dead database keeps it unwritten)."""
        self._stopping = True
        self._wake.set()
        await self.flush()

    async def flush(self) -> int:
        """Write the buffered rows, a batch per statement; how many were written. On failure the
        rows go back to the front of the buffer (the oldest then dropped past its capacity)."""
        written = 0
        async with self._lock:
            while self._rows:
                batch = [self._rows.popleft() for _ in range(min(len(self._rows), FLUSH_ROWS))]
                try:
                    await asyncio.wait_for(self._write(batch), WRITE_TIMEOUT_SECONDS)
                except Exception as exc:
                    self._rows.extendleft(reversed(batch))
                    excess = len(self._rows) - self.capacity
                    for _ in range(max(0, excess)):
                        self._rows.popleft()
                    if excess > 0:
                        self._drop(excess)
                    log.warning(
                        "request_log_unwritten", error=type(exc).__name__, pending=len(self._rows)
                    )
                    break
                written += len(batch)
                WRITTEN.inc(len(batch))
        return written

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        async with self.db.write_session() as session:
            await session.execute(insert(RequestLogEntry), rows)
            await session.commit()


def _row(
    scope: dict[str, Any],
    state: dict[str, Any],
    surface: SurfaceHeaders,
    client_id: str,
    environment: str,
    status: int,
    elapsed: float,
) -> dict[str, Any]:
    headers = dict(scope["headers"])
    noted: dict[str, Any] = state.get(NOTED) or {}
    method: str = scope["method"]
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    key = noted.get("idempotency_key")
    if surface.idempotency_header is not None and surface.idempotency_header in headers:
        key = _text(headers[surface.idempotency_header])
    body: dict[str, Any] = {}
    hasher = state.get(BODY_HASH)
    if hasher is not None:
        if surface.hashes_body:
            body["sha256"] = hasher.hexdigest()
        body["bytes"] = state.get(BODY_BYTES, 0)
    counts = noted.get("counts")
    if counts:
        body["counts"] = counts
    object_id = noted.get("object_id")
    return {
        "request_id": state.get("request_id", ""),
        "client_id": client_id,
        "environment": environment,
        "created_at": utcnow(),
        "surface": surface.name,
        "method": method,
        "route": route[:200],
        "status": status,
        "latency_ms": round(elapsed * 1000, 3),
        "idempotency_key": key[:_MAX_VALUE] if key else None,
        "headers_present": [shown for name, shown in surface.headers if name in headers],
        "header_values": {
            shown: _text(headers[name]) for name, shown in SHOWN_VALUES if name in headers
        },
        "error_code": noted.get("error_code"),
        "replayed": bool(noted.get("replayed", False)),
        "rate_limited": bool(noted.get("rate_limited", False)),
        "fault": state.get("fault"),
        "body": body,
        "fingerprint": fingerprint(scope, body.get("sha256", "")),
        "object_id": object_id[:64] if object_id else None,
        "retry_after": noted.get("retry_after"),
    }


def fingerprint(scope: dict[str, Any], body_sha256: str) -> str:
    """What makes two requests the same request: the method, the path, the query and the body
    (its hash), hashed again, so that no path value (a voucher code, a member's reference) is
    kept. The token endpoint's body is left out: it holds the client secret."""
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b""), body_sha256):
        digest.update(part if isinstance(part, bytes) else part.encode("latin-1"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


# Reading the log: the Admin API and the CLI.


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"rq{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not (text.startswith("rq") and text[2:].isdigit() and len(text) < 22):
        raise Invalid("cursor is not one this API returned", field="cursor")
    return int(text[2:])


def parse_status(status: str | None) -> tuple[int, int] | None:
    """``404`` or a class such as ``4xx``: the range of statuses it names."""
    if status is None:
        return None
    text = status.strip().lower()
    if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
        low = int(text[0]) * 100
        return low, low + 99
    if len(text) == 3 and text.isdigit() and 100 <= int(text) <= 599:
        return int(text), int(text)
    raise Invalid("status must be a status code (e.g. 429) or a class (e.g. 4xx)", field="status")


@dataclass(frozen=True)
class Filters:
    client_id: str | None = None
    route: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None
    idempotency_key: str | None = None


def query(filters: Filters) -> Select[RequestLogEntry]:
    stmt = select(RequestLogEntry)
    if filters.client_id:
        stmt = stmt.where(RequestLogEntry.client_id == filters.client_id)
    if filters.route:
        method, _, template = filters.route.strip().rpartition(" ")
        stmt = stmt.where(RequestLogEntry.route == template)
        if method:
            stmt = stmt.where(RequestLogEntry.method == method.upper())
    statuses = parse_status(filters.status)
    if statuses is not None:
        stmt = stmt.where(RequestLogEntry.status.between(*statuses))
    if filters.since is not None:
        stmt = stmt.where(RequestLogEntry.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(RequestLogEntry.created_at < filters.until)
    if filters.request_id:
        stmt = stmt.where(RequestLogEntry.request_id == filters.request_id)
    if filters.idempotency_key:
        stmt = stmt.where(RequestLogEntry.idempotency_key == filters.idempotency_key)
    return stmt


@dataclass(frozen=True)
class RequestPage:
    items: list[RequestLogEntry]
    next_cursor: str | None


async def list_requests(
    session: AsyncSession, filters: Filters, *, cursor: str | None, limit: int
) -> RequestPage:
    """Newest first, a page at a time; the cursor is the last row's sequence number."""
    stmt = query(filters)
    if cursor:
        stmt = stmt.where(RequestLogEntry.seq < decode_cursor(cursor))
    rows = list(await session.scalars(stmt.order_by(RequestLogEntry.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return RequestPage(rows, encode_cursor(rows[-1].seq) if more and rows else None)


async def requests_after(
    session: AsyncSession, filters: Filters, *, after: int, limit: int = 500
) -> list[RequestLogEntry]:
    """Rows recorded after sequence number ``after``, oldest first (``bestow requests tail``)."""
    stmt = query(filters).where(RequestLogEntry.seq > after)
    return list(await session.scalars(stmt.order_by(RequestLogEntry.seq).limit(limit)))


async def last_seq(session: AsyncSession, filters: Filters) -> int:
    stmt = query(filters).with_only_columns(RequestLogEntry.seq)
    found = await session.scalar(stmt.order_by(RequestLogEntry.seq.desc()).limit(1))
    return int(found or 0)


# Retention: the worker's housekeeping.


async def prune(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int = PRUNE_BATCH,
    max_batches: int | None = PRUNE_BATCHES_PER_SWEEP,
) -> int:
    """Delete the rows past their retention (``BESTOW_REQUEST_LOG_DAYS``, and
    ``BESTOW_REQUEST_LOG_PRODUCTION_DAYS`` for production clients' rows), ``batch`` rows per
    statement and transaction, while batches come back full; how many were deleted."""
    now = now or utcnow()
    cutoffs = (
        (False, now - timedelta(days=settings.request_log_days)),
        (True, now - timedelta(days=settings.request_log_production_days)),
    )
    total = 0
    batches = 0
    for production, cutoff in cutoffs:
        while max_batches is None or batches < max_batches:
            async with db.write_session() as session:
                count = await _prune_batch(session, production, cutoff, batch)
                await session.commit()
            total += count
            batches += 1
            if count < batch:
                break
    return total


async def _prune_batch(
    session: AsyncSession, production: bool, cutoff: datetime, batch: int
) -> int:
    is_production = RequestLogEntry.environment == Environment.PRODUCTION.value
    victims = (
        select(RequestLogEntry.seq)
        .where(
            RequestLogEntry.created_at < cutoff,
            is_production if production else ~is_production,
        )
        .order_by(RequestLogEntry.seq)
        .limit(batch)
        .scalar_subquery()
    )
    done = await session.execute(delete(RequestLogEntry).where(RequestLogEntry.seq.in_(victims)))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
