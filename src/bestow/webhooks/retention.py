"""How long webhook history is kept: ``BESTOW_WEBHOOK_RETENTION_DAYS`` (30) after it settles.

Run by every worker with its housekeeping. A delivery that succeeded or failed and has not changed
for the retention period is deleted with its attempts (foreign key cascade); an event published
that long ago with no delivery left goes too, after which it can no longer be replayed. Pending
deliveries are never purged. Deletes run in batches, each its own short transaction, so a large
backlog never holds a long lock.

Who commits: ``_in_batches``, once per batch of ``BATCH`` rows, in a write session of its own: a
batch deleted stays deleted if a later one fails, and the next sweep goes on from there.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Delete, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.config import Settings
from bestow.kit.db import Database, utcnow
from bestow.models import OutboxEvent, WebhookDelivery

BATCH = 5000
MAX_BATCHES = 20
"""Per table and per sweep: at most 100,000 rows; the next sweep (a minute later) goes on."""


async def purge(db: Database, settings: Settings) -> dict[str, int]:
    """Delete what is past retention; returns how many deliveries and events went."""
    cutoff = utcnow() - timedelta(days=settings.webhook_retention_days)
    settled = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state != "pending", WebhookDelivery.updated_at < cutoff)
        .limit(BATCH)
    )
    deliveries = await _in_batches(
        db, delete(WebhookDelivery).where(WebhookDelivery.id.in_(settled.scalar_subquery()))
    )
    orphans = (
        select(OutboxEvent.id)
        .where(
            OutboxEvent.published_at < cutoff,
            ~exists().where(WebhookDelivery.event_id == OutboxEvent.id),
        )
        .limit(BATCH)
    )
    events = await _in_batches(
        db, delete(OutboxEvent).where(OutboxEvent.id.in_(orphans.scalar_subquery()))
    )
    return {"deliveries": deliveries, "events": events}


async def _in_batches(db: Database, statement: Delete) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        async with db.write_session() as session:
            count = await _execute(session, statement)
            await session.commit()
        total += count
        if count < BATCH:
            break
    return total


async def _execute(session: AsyncSession, statement: Delete) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
