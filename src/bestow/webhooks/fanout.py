"""Fan-out: one delivery row per endpoint that wants an event, written with the event.

Domains that record events in bulk (batch issuance, revocation) call ``write_events``: the events
and their deliveries are inserted in the caller's transaction and the events are published at
once, so a change, its events and their deliveries commit together or not at all. Events recorded
one by one with ``bestow.kit.outbox.record_event`` stay unpublished until the dispatcher fans them
out (``bestow.webhooks.dispatcher.fan_out``), with the same rules.

An event goes to every endpoint of its client whose filter takes its type; a disabled endpoint
gets the delivery as ``failed`` (``endpoint disabled``), so that a replay can send it later.

A demo or UAT client's ``webhook_chaos`` fault rules act here, on the rows about to be written
(``deliveries``; ``bestow.lab.worker_faults``): a later ``next_attempt_at`` (delay, reorder) or a
resend (duplicate), marked in ``origin``. A production client's rows are never looked at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import bulk_insert, dialect_of, utcnow
from bestow.kit.ids import new_id
from bestow.lab import environments, worker_faults
from bestow.models import Client, OutboxEvent, WebhookDelivery, WebhookEndpoint

NOTIFY_CHANNEL = "bestow_webhooks"
"""PostgreSQL channel on which a commit with new deliveries wakes the dispatchers."""


class Subscriptions(defaultdict[str, list[tuple[str, list[str], bool]]]):
    """client id -> (endpoint id, event types (empty: all), enabled) of each of its endpoints;
    ``lab``: those of the clients that may have fault rules (demo and UAT)."""

    def __init__(self) -> None:
        super().__init__(list)
        self.lab: set[str] = set()


async def subscriptions(session: AsyncSession, client_ids: set[str]) -> Subscriptions:
    by_client = Subscriptions()
    if not client_ids:
        return by_client
    rows = await session.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.client_id,
            WebhookEndpoint.event_types,
            WebhookEndpoint.enabled,
            Client.environment,
        )
        .join(Client, Client.id == WebhookEndpoint.client_id)
        .where(WebhookEndpoint.client_id.in_(client_ids))
    )
    for endpoint_id, client_id, types, enabled, environment in rows:
        by_client[client_id].append((endpoint_id, list(types or []), bool(enabled)))
        if environments.allows_faults(environment):
            by_client.lab.add(client_id)
    return by_client


def delivery_rows(
    events: Iterable[tuple[str, str, str | None]], wanted: Subscriptions, now: datetime
) -> list[dict[str, Any]]:
    """The deliveries of ``(event id, type, client id)`` events, as rows for ``bulk_insert``."""
    return [
        {
            "id": new_id("dlv"),
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "client_id": client_id,
            "event_type": event_type,
            "state": "pending" if enabled else "failed",
            "attempt_count": 0,
            "run_attempts": 0,
            "origin": "schedule",
            "next_attempt_at": now,
            "locked_by": None,
            "last_status_code": None,
            "last_error": None if enabled else "endpoint disabled",
            "created_at": now,
            "updated_at": now,
            "delivered_at": None,
        }
        for event_id, event_type, client_id in events
        for endpoint_id, types, enabled in wanted.get(client_id or "", ())
        if not types or event_type in types
    ]


async def deliveries(
    session: AsyncSession,
    events: Iterable[tuple[str, str, str | None]],
    wanted: Subscriptions,
    now: datetime,
) -> list[dict[str, Any]]:
    """``delivery_rows``, with the webhook chaos of demo and UAT clients applied (a query only
    when such a client has a row)."""
    rows = delivery_rows(events, wanted, now)
    if wanted.lab:
        await worker_faults.webhook_chaos(session, rows, wanted.lab, now)
    return rows


async def write_events(session: AsyncSession, events: list[dict[str, Any]]) -> int:
    """Insert outbox event rows (every column but ``published_at``) with their deliveries, in the
    caller's transaction; returns how many deliveries."""
    if not events:
        return 0
    now = utcnow()
    wanted = await subscriptions(session, {e["client_id"] for e in events if e["client_id"]})
    for event in events:
        event["published_at"] = now
    await bulk_insert(session, OutboxEvent.__table__, events)
    rows = await deliveries(
        session, ((e["id"], e["type"], e["client_id"]) for e in events), wanted, now
    )
    await bulk_insert(session, WebhookDelivery.__table__, rows)
    if rows and dialect_of(session) == "postgresql":
        # Wakes the dispatchers when this commits (never for a rollback), instead of their poll.
        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
    return len(rows)
