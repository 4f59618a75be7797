"""Periodic clean-up run by every worker; each statement is safe to run concurrently.

A worker pipeline, so it commits itself: the clean-up of idempotency records and finished jobs in
one transaction, then the voucher expiry a batch per transaction (``expire_vouchers``), so that
each batch holds its row locks briefly and a long backlog makes progress even if a later batch
fails; and the request log's retention, a batch of rows per transaction
(``bestow.lab.requestlog.prune``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from bestow.config import Settings
from bestow.kit.db import Database, utcnow
from bestow.lab import requestlog
from bestow.models import IdempotencyRecord, Job
from bestow.vouchers import expiry

FINISHED_JOB_RETENTION = timedelta(days=7)
EXPIRY_BATCHES_PER_SWEEP = 20
"""At most 100,000 vouchers expired per sweep; the next sweep (a minute later) goes on."""


async def sweep(db: Database, settings: Settings) -> None:
    now = utcnow()
    async with db.write_session() as session:
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
        await session.execute(
            delete(Job).where(
                Job.state.in_(["completed", "cancelled"]),
                Job.finished_at < now - FINISHED_JOB_RETENTION,
            )
        )
        await session.commit()
    await expire_vouchers(db)
    await requestlog.prune(db, settings)


async def expire_vouchers(
    db: Database, *, max_batches: int | None = EXPIRY_BATCHES_PER_SWEEP
) -> int:
    """Mark the vouchers past their expiry ``expired``, a batch per transaction (short locks), while
    batches come back full, at most ``max_batches`` (``None``: until none is left); how many.
    Two workers sweeping at once skip each other's rows: the update re-checks ``active``."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with db.write_session() as session:
            count = await expiry.expire_due(session)
            await session.commit()
        total += count
        batches += 1
        if count < expiry.EXPIRY_BATCH:
            break
    return total
