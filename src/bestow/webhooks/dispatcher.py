"""The webhook dispatcher, run by every worker: fans the outbox out, then delivers with retries.

1. **Fan-out.** Unpublished outbox events are locked (``SKIP LOCKED`` on PostgreSQL; SQLite has a
   single writer), one delivery row is written per endpoint of the event's client that wants the
   type, and the events are marked published, all in one transaction: no event is skipped or fanned
   out twice. A disabled endpoint gets its rows as ``failed`` so a replay can recover them.
2. **Claim.** Due deliveries are leased: the claim pushes ``next_attempt_at`` to the end of the
   lease and raises ``attempt_count``, the fencing token. While the lease holds no other dispatcher
   sees the row; when a dispatcher dies mid-send the lease lapses and the delivery is sent again
   (at least once, with the same ``webhook-id``).
3. **Send.** Up to ``webhook_concurrency`` requests in flight over pooled keep-alive connections,
   each signed at send time, with a total timeout, never following redirects. The URL rules follow
   the environment of the endpoint's client, read at claim time: a production client's deliveries
   go through the strict connection pool (https, public addresses only, checked by its resolver at
   every new connection), the others' through the lax one, so that a connection opened for a demo
   endpoint on a private address is never reused for a production delivery. A deployment pinned
   to production sends every delivery the strict way (a client left from before the pin too).
4. **Record.** Outcomes are written in batches: one attempt row each, the delivery's next state
   (``succeeded``; ``pending`` with the next time of the schedule; ``failed``), and the endpoint's
   failure streak (410 Gone, or five days without a success, disables it).

Who commits: this module, in write sessions of its own, once per step: each fan-out batch (the
deliveries and the events marked published together), each claim (the leases must be visible to
other dispatchers before any request goes out, and no transaction stays open across HTTP), and
each batch of recorded outcomes. Reads (whether anything is due, what the sends need) use read
sessions, so an idle dispatcher takes no write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
import structlog
from sqlalchemy import Select, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow import __version__, domains
from bestow.audit import service as audit
from bestow.config import Settings
from bestow.kit.actor import Actor
from bestow.kit.db import Database, bulk_insert, dialect_of, for_update_skip_locked, utcnow
from bestow.kit.ids import new_id
from bestow.kit.outbox import lookup
from bestow.kit.security import Sealer, load_secret_key
from bestow.lab import environments
from bestow.models import Client, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks import fanout, signing, urls
from bestow.webhooks.endpoints import MAX_ATTEMPTS, RETRY_SCHEDULE, signing_secrets

log = structlog.get_logger("bestow.webhooks")

USER_AGENT = f"Bestow-Webhooks/{__version__}"
FAN_OUT_BATCH = 2000
EXCERPT_BYTES = 1024
DRAIN_BYTES = 64 * 1024
DISABLE_AFTER = timedelta(days=5)
RECORD_BATCH = 500
RECORD_WINDOW_SECONDS = 0.02
RETRY_RECORD_SECONDS = 1.0
SYSTEM = Actor("system:webhooks")
SUCCESS_STAMP = timedelta(seconds=10)

SURFACE_SIGNATURES = {"partner": "X-Thanx-Signature"}
"""The vendor signature header a surface's events carry besides the Standard Webhooks ones."""


@dataclass(frozen=True)
class Target:
    """What a send needs of an endpoint, read at claim time."""

    id: str
    url: str
    enabled: bool
    max_attempts: int
    headers: dict[str, str]
    secrets: list[str]
    vendor_secret: str
    strict: bool = True
    """The endpoint's client is a production one (or gone): https and public addresses only
    (``bestow.lab.environments.allows_local_webhooks``)."""


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    event_id: str
    event_type: str
    attempt_count: int
    run_attempts: int
    origin: str
    body: bytes
    target: Target


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    at: datetime
    success: bool
    status_code: int | None = None
    error: str | None = None
    latency_ms: int = 0
    excerpt: str = ""
    sent: bool = True
    """False when no request was made (the endpoint is disabled)."""


# Fan-out ------------------------------------------------------------------------------------


async def fan_out(db: Database, *, limit: int = FAN_OUT_BATCH, probe: bool = True) -> int:
    """Turn up to ``limit`` unpublished events into deliveries; returns how many events. With
    ``probe``, a read first checks that there is something to do."""
    unpublished = select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))
    if probe and not await _any(db, unpublished):
        return 0
    async with db.write_session() as session:
        stmt = (
            select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.client_id)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        locking = for_update_skip_locked(dialect_of(session))
        if locking:
            stmt = stmt.with_for_update(**locking)
        events = (await session.execute(stmt)).all()
        if not events:
            return 0
        now = utcnow()
        wanted = await fanout.subscriptions(session, {c for _, _, c in events if c})
        rows = await fanout.deliveries(session, events, wanted, now)
        await bulk_insert(session, WebhookDelivery.__table__, rows)
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([event_id for event_id, _, _ in events]))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return len(events)


async def _any(db: Database, query: Select[Any]) -> bool:
    """Whether ``query`` finds a row: a read, so an idle dispatcher takes no write lock (SQLite
    has one for the whole database)."""
    async with db.session() as session:
        return (await session.execute(query.limit(1))).first() is not None


# Claim --------------------------------------------------------------------------------------


async def claim(
    db: Database,
    sealer: Sealer,
    *,
    worker_id: str,
    limit: int,
    lease: timedelta,
    probe: bool = True,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries to ``worker_id``, with what sending them needs. With
    ``probe``, a read first checks that something is due (for a dispatcher that found nothing
    last time)."""
    due_now = (WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= utcnow())
    if probe and not await _any(db, select(WebhookDelivery.id).where(*due_now)):
        return []
    async with db.write_session() as session:
        now = utcnow()
        due = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        locking = for_update_skip_locked(dialect_of(session))
        if locking:
            due = due.with_for_update(**locking)
        rows = (
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due.scalar_subquery()))
                .values(
                    locked_by=worker_id,
                    next_attempt_at=now + lease,
                    attempt_count=WebhookDelivery.attempt_count + 1,
                    run_attempts=WebhookDelivery.run_attempts + 1,
                    updated_at=now,
                )
                .returning(
                    WebhookDelivery.id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.event_id,
                    WebhookDelivery.event_type,
                    WebhookDelivery.attempt_count,
                    WebhookDelivery.run_attempts,
                    WebhookDelivery.origin,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        await session.commit()
    if not rows:
        return []
    # The leases are taken: read what the sends need outside the writing transaction.
    async with db.session() as session:
        bodies = {
            event_id: orjson.dumps(payload)
            for event_id, payload in await session.execute(
                select(OutboxEvent.id, OutboxEvent.payload).where(
                    OutboxEvent.id.in_({row.event_id for row in rows})
                )
            )
        }
        targets = {
            endpoint.id: _target(endpoint, sealer, now, environment)
            for endpoint, environment in await session.execute(
                select(WebhookEndpoint, Client.environment)
                .outerjoin(Client, Client.id == WebhookEndpoint.client_id)
                .where(WebhookEndpoint.id.in_({row.endpoint_id for row in rows}))
            )
        }
    return [
        Claimed(
            delivery_id=row.id,
            event_id=row.event_id,
            event_type=row.event_type,
            attempt_count=row.attempt_count,
            run_attempts=row.run_attempts,
            origin=row.origin,
            body=bodies[row.event_id],
            target=targets[row.endpoint_id],
        )
        for row in rows
        if row.endpoint_id in targets  # not deleted (with its deliveries) since the claim
    ]


def _target(
    endpoint: WebhookEndpoint, sealer: Sealer, now: datetime, environment: str | None
) -> Target:
    """``environment``: the endpoint's client's; ``None`` (no such client) is held to the strict
    rules."""
    secrets, vendor_secret = signing_secrets(endpoint, sealer, now)
    return Target(
        id=endpoint.id,
        url=endpoint.url,
        enabled=endpoint.enabled,
        max_attempts=endpoint.max_attempts,
        headers=dict(endpoint.headers or {}),
        secrets=secrets,
        vendor_secret=vendor_secret,
        strict=environment is None or not environments.allows_local_webhooks(environment),
    )


# Send ---------------------------------------------------------------------------------------


def request_headers(item: Claimed, timestamp: int) -> dict[str, str]:
    target = item.target
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": item.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.standard_signature(
            target.secrets, item.event_id, timestamp, item.body
        ),
    }
    event = lookup(item.event_type)
    vendor_header = SURFACE_SIGNATURES.get(event.surface or "") if event else None
    if vendor_header:
        headers[vendor_header] = signing.thanx_signature(target.vendor_secret, item.body)
    return headers


async def send(
    http: aiohttp.ClientSession, item: Claimed, *, production: bool, timeout: float
) -> Outcome:
    """One attempt; never raises for the receiver's or the network's faults."""
    at = utcnow()
    if not item.target.enabled:
        return Outcome(item, at, success=False, error="endpoint disabled", sent=False)
    started = time.perf_counter()
    status: int | None = None
    excerpt = b""
    error: str | None = None
    try:
        urls.check_before_send(item.target.url, production=production)
        async with http.post(
            item.target.url,
            data=item.body,
            headers=request_headers(item, int(time.time())),
            allow_redirects=False,
        ) as response:
            status = response.status
            excerpt = await _read_excerpt(response)
    except urls.BlockedAddress as exc:
        error = str(exc)
    except aiohttp.ClientConnectorError as exc:
        blocked = isinstance(exc.os_error, urls.BlockedAddress)
        error = str(exc.os_error) if blocked else f"connection failed: {_reason(exc.os_error)}"
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except aiohttp.ServerDisconnectedError:
        error = "server disconnected"
    except (aiohttp.ClientError, OSError) as exc:
        error = f"request failed: {type(exc).__name__}"
    latency = int((time.perf_counter() - started) * 1000)
    success = status is not None and 200 <= status < 300
    if status is not None and not success:
        error = f"HTTP {status}"
    return Outcome(
        item,
        at,
        success=success,
        status_code=status,
        error=error,
        latency_ms=latency,
        excerpt=excerpt.decode("utf-8", "replace"),
    )


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


async def _read_excerpt(response: aiohttp.ClientResponse) -> bytes:
    """The first bytes of the answer; the rest is read (up to a limit) so that the connection
    can be reused, or dropped when the answer is larger."""
    kept = b""
    total = 0
    while not response.content.at_eof():
        chunk = await response.content.read(DRAIN_BYTES)
        if not chunk:
            break
        if len(kept) < EXCERPT_BYTES:
            kept += chunk[: EXCERPT_BYTES - len(kept)]
        total += len(chunk)
        if total > DRAIN_BYTES:
            response.close()
            break
    return kept


# Record -------------------------------------------------------------------------------------


def next_state(outcome: Outcome) -> tuple[str, datetime | None]:
    """The delivery's state after this attempt, with the time of the next one when it retries."""
    if outcome.success:
        return "succeeded", None
    attempts = min(outcome.claimed.target.max_attempts, MAX_ATTEMPTS)
    if not outcome.sent or outcome.status_code == 410 or outcome.claimed.run_attempts >= attempts:
        return "failed", None
    return "pending", outcome.at + RETRY_SCHEDULE[outcome.claimed.run_attempts]


_DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_RECORD = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("b_id"),
        _DELIVERIES.c.attempt_count == bindparam("b_attempt"),
        _DELIVERIES.c.locked_by == bindparam("b_worker"),
    )
    .values(
        state=bindparam("b_state"),
        next_attempt_at=bindparam("b_next"),
        locked_by=None,
        last_status_code=bindparam("b_status"),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_now"),
        delivered_at=bindparam("b_delivered"),
    )
)


async def record(db: Database, outcomes: list[Outcome], *, worker_id: str) -> None:
    """Write a batch of outcomes in one transaction. A delivery whose lease this worker lost is
    left alone (another dispatcher owns it now); its attempt is still logged. Outcomes of
    deliveries deleted meanwhile (with their endpoint) are dropped."""
    if not outcomes:
        return
    now = utcnow()
    attempts = [
        {
            "id": new_id("att"),
            "delivery_id": o.claimed.delivery_id,
            "endpoint_id": o.claimed.target.id,
            "event_id": o.claimed.event_id,
            "attempt": o.claimed.attempt_count,
            "origin": o.claimed.origin,
            "success": o.success,
            "status_code": o.status_code,
            "error": o.error,
            "latency_ms": o.latency_ms,
            "response_excerpt": o.excerpt,
            "created_at": o.at,
        }
        for o in outcomes
        if o.sent
    ]
    updates = []
    for o in outcomes:
        state, next_at = next_state(o)
        updates.append(
            {
                "b_id": o.claimed.delivery_id,
                "b_attempt": o.claimed.attempt_count,
                "b_worker": worker_id,
                "b_state": state,
                "b_next": next_at or o.at,
                "b_status": o.status_code,
                "b_error": o.error,
                "b_now": now,
                "b_delivered": o.at if o.success else None,
            }
        )
    async with db.write_session() as session:
        # An endpoint deleted while its request was in flight took its deliveries along: drop
        # their outcomes. The lock keeps the others from being deleted before this commits.
        present_query = select(WebhookDelivery.id).where(
            WebhookDelivery.id.in_([o.claimed.delivery_id for o in outcomes])
        )
        if dialect_of(session) == "postgresql":
            present_query = present_query.with_for_update(key_share=True)
        present = set(await session.scalars(present_query))
        attempts = [a for a in attempts if a["delivery_id"] in present]
        updates = [u for u in updates if u["b_id"] in present]
        await bulk_insert(session, WebhookAttempt.__table__, attempts)
        if updates:
            await session.execute(_RECORD, updates)
        await _endpoint_health(session, outcomes, now)
        await session.commit()


async def _endpoint_health(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    succeeded = {o.claimed.target.id for o in outcomes if o.success}
    failing = {o.claimed.target.id for o in outcomes if o.sent and not o.success} - succeeded
    gone = {o.claimed.target.id for o in outcomes if o.status_code == 410}
    if succeeded:
        # A busy endpoint's row would be rewritten (and locked) by every batch of every worker:
        # ``last_success_at`` moves at most every SUCCESS_STAMP while all is well.
        await session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id.in_(succeeded),
                or_(
                    WebhookEndpoint.failing_since.is_not(None),
                    WebhookEndpoint.last_success_at.is_(None),
                    WebhookEndpoint.last_success_at < now - SUCCESS_STAMP,
                ),
            )
            .values(failing_since=None, last_success_at=now)
        )
    if failing:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(failing))
            .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
        )
    disable = [(endpoint_id, "the endpoint answered 410 Gone") for endpoint_id in sorted(gone)]
    if failing:
        stale = await session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.id.in_(failing - gone),
                WebhookEndpoint.enabled.is_(True),
                WebhookEndpoint.failing_since <= now - DISABLE_AFTER,
            )
        )
        disable += [(endpoint_id, "no successful delivery for 5 days") for endpoint_id in stale]
    for endpoint_id, reason in disable:
        result = await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, updated_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            log.warning("webhooks.endpoint_disabled", endpoint_id=endpoint_id, reason=reason)
            audit.record(
                session,
                actor=SYSTEM,
                action="webhook_endpoint.disabled",
                target_type="webhook_endpoint",
                target_id=endpoint_id,
                changes={"reason": reason},
            )


# The loop -----------------------------------------------------------------------------------


class Dispatcher:
    """Runs until ``stop()``; then finishes the requests in flight and records them."""

    def __init__(self, db: Database, settings: Settings, *, worker_id: str) -> None:
        domains.load()  # every domain's event types, which name their surface's signature header
        self.db = db
        self.worker_id = worker_id
        self.sealer = Sealer(load_secret_key(settings))
        self.all_strict = settings.is_production
        """Pinned to production: every delivery follows production's URL rules."""
        self.concurrency = settings.webhook_concurrency
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        self.poll = settings.webhook_poll_seconds
        self._stopping = asyncio.Event()
        self._new_work = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._has_outcomes = asyncio.Event()
        self._closing = False

    def stop(self) -> None:
        self._stopping.set()
        self._new_work.set()
        self._slot_freed.set()
        self._has_outcomes.set()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._new_work.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with contextlib.AsyncExitStack() as stack:
            # Two pools: production clients' endpoints (https, public addresses, the resolver
            # checks every new connection) and the others' (any http or https URL). A pooled
            # connection never crosses from one to the other.
            pools = {}
            for strict in (True, False):
                connector = aiohttp.TCPConnector(
                    limit=self.concurrency, resolver=urls.resolver(strict), keepalive_timeout=30
                )
                pools[strict] = await stack.enter_async_context(
                    aiohttp.ClientSession(
                        connector=connector,
                        timeout=timeout,
                        auto_decompress=False,
                        trust_env=False,
                    )
                )
            recorder = asyncio.create_task(self._record_loop())
            fanning = asyncio.create_task(self._fan_out_loop())
            try:
                await self._claim_loop(pools)
            finally:
                await asyncio.gather(fanning, return_exceptions=True)
                if self._in_flight:
                    await asyncio.wait(list(self._in_flight), timeout=self.timeout + 5)
                self._closing = True
                self._has_outcomes.set()
                await recorder

    async def _fan_out_loop(self) -> None:
        """Fans events out as they come, and tells the claim loop when it made deliveries."""
        fanned = 0
        while not self._stopping.is_set():
            try:
                fanned = await fan_out(self.db, probe=fanned == 0)
            except Exception as exc:  # the database may be away: keep trying
                log.warning("webhooks.fan_out_failed", error=type(exc).__name__)
                fanned = 0
            if fanned:
                self._new_work.set()
                continue
            await self._pause(self._stopping)

    async def _claim_loop(self, pools: dict[bool, aiohttp.ClientSession]) -> None:
        """Keeps the request slots busy: claims as soon as an eighth of them is free, and waits
        for the fan-out (or the next poll) once nothing due is left."""
        threshold = max(1, self.concurrency // 8)
        drained = True
        while not self._stopping.is_set():
            self._slot_freed.clear()
            free = self.concurrency - len(self._in_flight)
            if free < threshold:
                await self._pause(self._slot_freed)
                continue
            self._new_work.clear()
            try:
                claimed = await claim(
                    self.db,
                    self.sealer,
                    worker_id=self.worker_id,
                    limit=free,
                    lease=self.lease,
                    probe=drained,
                )
            except Exception as exc:  # the database may be away: keep trying
                log.warning("webhooks.claim_failed", error=type(exc).__name__)
                claimed = []
            for item in claimed:
                self._start(pools[self._strict(item)], item)
            drained = len(claimed) < free
            if drained:
                await self._pause(self._new_work)

    async def _pause(self, event: asyncio.Event) -> None:
        """Until ``event`` is set or the poll interval has passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.poll)

    def _strict(self, item: Claimed) -> bool:
        return self.all_strict or item.target.strict

    def _start(self, http: aiohttp.ClientSession, item: Claimed) -> None:
        task = asyncio.create_task(self._deliver(http, item))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, http: aiohttp.ClientSession, item: Claimed) -> None:
        outcome = await send(http, item, production=self._strict(item), timeout=self.timeout)
        self._outcomes.append(outcome)
        self._has_outcomes.set()
        self._slot_freed.set()

    async def _record_loop(self) -> None:
        """Writes outcomes in batches until the dispatcher closes and nothing is left. A batch
        that cannot be written is kept and tried again; one still unwritten at shutdown is given
        up, and its deliveries are sent again once their leases lapse."""
        failures = 0
        while True:
            await self._has_outcomes.wait()
            if not self._closing and len(self._outcomes) < RECORD_BATCH:
                await asyncio.sleep(RECORD_WINDOW_SECONDS)  # let a batch gather
            self._has_outcomes.clear()
            batch, self._outcomes = self._outcomes, []
            if batch:
                try:
                    await record(self.db, batch, worker_id=self.worker_id)
                    failures = 0
                    _log_failures(batch)
                except Exception as exc:
                    failures += 1
                    log.warning("webhooks.record_failed", error=type(exc).__name__, n=len(batch))
                    if self._closing and failures >= 3:
                        return
                    self._outcomes[:0] = batch
                    self._has_outcomes.set()
                    await asyncio.sleep(RETRY_RECORD_SECONDS)
                    continue
            if self._closing and not self._outcomes:
                return


def _log_failures(batch: list[Outcome]) -> None:
    failed: dict[tuple[str, str], int] = defaultdict(int)
    for outcome in batch:
        if not outcome.success and outcome.sent:
            failed[(outcome.claimed.target.id, outcome.error or "")] += 1
    for (endpoint_id, error), count in failed.items():
        log.info("webhooks.attempts_failed", endpoint_id=endpoint_id, error=error, count=count)
