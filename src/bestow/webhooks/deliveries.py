"""Webhook deliveries, of one endpoint or of all: the filters they are listed by, and what each
shows of its attempts (how many failed, the last one).

One query serves both lists: an endpoint's deliveries (``endpoints.list_deliveries``, oldest
first, as it always answered) and every endpoint's (``list_deliveries`` here, newest first, for
"why did this webhook not arrive?"). Only reads: nothing here imports the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow import domains
from bestow.kit.errors import Invalid
from bestow.kit.outbox import lookup
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.kit.timefmt import aware
from bestow.models import WebhookAttempt, WebhookDelivery

STATES = ("pending", "succeeded", "failed")
"""A delivery's states (``WebhookDelivery``)."""
ORIGIN_PATTERN = r"^[a-z_:]{1,16}\*?$"
"""An origin (``schedule``, ``replay``, ``chaos:delay``...), or a prefix of one then ``*``."""


@dataclass(frozen=True)
class Filters:
    """What a list of deliveries keeps; each filter given narrows it."""

    endpoint_id: str | None = None
    client_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    state: str | None = None
    origin: str | None = None
    """An origin, or a prefix then ``*``: ``chaos:*`` keeps every delivery chaos picked."""
    with_failures: bool | None = None
    """True: deliveries with at least one failed attempt; False: those with none."""
    since: datetime | None = None
    """Created at this time or later (UTC when it has no offset)."""
    until: datetime | None = None
    """Created before this time."""


def _check(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """Refuse a filter that can match nothing by mistake, naming it; the time window in UTC."""
    if filters.state is not None and filters.state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}", field="state")
    if filters.origin is not None and "*" in filters.origin[:-1]:
        raise Invalid("origin takes a '*' only at its end, as in chaos:*", field="origin")
    if filters.event_type is not None:
        domains.load()  # every domain's event types
        if lookup(filters.event_type) is None:
            raise Invalid(f"unknown event type: {filters.event_type}", field="event_type")
    since, until = aware(filters.since, "since"), aware(filters.until, "until")
    if since is not None and until is not None and until <= since:
        raise Invalid("until must be later than since", field="until")
    return since, until


def query(filters: Filters) -> Select[WebhookDelivery]:
    """The deliveries ``filters`` keep, in no order (the lists order them)."""
    since, until = _check(filters)
    stmt = select(WebhookDelivery)
    if filters.endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.client_id is not None:
        stmt = stmt.where(WebhookDelivery.client_id == filters.client_id)
    if filters.event_id:
        stmt = stmt.where(WebhookDelivery.event_id == filters.event_id)
    if filters.event_type is not None:
        stmt = stmt.where(WebhookDelivery.event_type == filters.event_type)
    if filters.state:
        stmt = stmt.where(WebhookDelivery.state == filters.state)
    if filters.origin is not None:
        if filters.origin.endswith("*"):
            prefix = filters.origin[:-1]
            stmt = stmt.where(WebhookDelivery.origin.startswith(prefix, autoescape=True))
        else:
            stmt = stmt.where(WebhookDelivery.origin == filters.origin)
    if filters.with_failures is not None:
        failed = exists().where(
            WebhookAttempt.delivery_id == WebhookDelivery.id,
            WebhookAttempt.success.is_(False),
        )
        stmt = stmt.where(failed if filters.with_failures else ~failed)
    if since is not None:
        stmt = stmt.where(WebhookDelivery.created_at >= since)
    if until is not None:
        stmt = stmt.where(WebhookDelivery.created_at < until)
    return stmt


@dataclass(frozen=True)
class Listed:
    """A delivery with what its recorded attempts tell: how many failed, and the last one."""

    delivery: WebhookDelivery
    failed_attempts: int
    last_attempt: WebhookAttempt | None


async def list_deliveries(
    session: AsyncSession, filters: Filters, *, cursor: str | None, limit: int
) -> CursorPage[Listed]:
    """Deliveries of every endpoint (or those ``filters`` keep), newest first; the cursor is the
    last delivery's id (ids are time-ordered). One more query per page, whatever its size,
    reads the attempts."""
    found = await cursor_paginate(
        session, query(filters), WebhookDelivery.id, cursor=cursor, limit=limit, newest_first=True
    )
    rows = found.items
    failed, last = await _attempts(session, [row.id for row in rows])
    return CursorPage(
        items=[Listed(row, failed.get(row.id, 0), last.get(row.id)) for row in rows],
        next_cursor=found.next_cursor,
    )


async def _attempts(
    session: AsyncSession, delivery_ids: list[str]
) -> tuple[dict[str, int], dict[str, WebhookAttempt]]:
    """For each delivery that has recorded attempts: how many failed, and its last one (the
    highest attempt number: every claim raises it, replays included)."""
    if not delivery_ids:
        return {}, {}
    per_delivery = (
        select(
            WebhookAttempt.delivery_id,
            func.sum(case((WebhookAttempt.success.is_(False), 1), else_=0)).label("failed"),
            func.max(WebhookAttempt.attempt).label("last"),
        )
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .group_by(WebhookAttempt.delivery_id)
        .subquery()
    )
    found = await session.execute(
        select(WebhookAttempt, per_delivery.c.failed)
        .join(
            per_delivery,
            and_(
                WebhookAttempt.delivery_id == per_delivery.c.delivery_id,
                WebhookAttempt.attempt == per_delivery.c.last,
            ),
        )
        .order_by(WebhookAttempt.id)
    )
    failed: dict[str, int] = {}
    last: dict[str, WebhookAttempt] = {}
    for attempt, count in found:
        failed[attempt.delivery_id] = int(count or 0)
        last[attempt.delivery_id] = attempt  # by id order: the latest of equal numbers wins
    return failed, last
