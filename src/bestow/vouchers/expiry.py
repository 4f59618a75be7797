"""Storing ``expired`` on the vouchers past their expiry. Reads derive ``expired`` from the time
anyway (``bestow.vouchers.status``): this makes it the stored state too. The worker's
housekeeping (``bestow.worker.housekeeping``) runs it a batch per transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bestow.kit.db import WriteSession, dialect_of, for_update_skip_locked, utcnow
from bestow.models import Voucher

EXPIRY_BATCH = 5_000


async def expire_due(session: WriteSession, *, now: datetime | None = None) -> int:
    """Mark up to ``EXPIRY_BATCH`` active vouchers past their expiry ``expired``; how many."""
    now = now or utcnow()
    # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT ... FOR UPDATE): PostgreSQL
    # may run such a subquery more than once and so update more than the batch.
    due = list(
        await session.scalars(
            select(Voucher.id)
            .where(Voucher.status == "active", Voucher.expires_at <= now)
            .limit(EXPIRY_BATCH)
            # Rows another sweep (or a redemption) holds are left to it, not waited for.
            .with_for_update(**for_update_skip_locked(dialect_of(session)))
        )
    )
    if not due:
        return 0
    result = await session.execute(
        update(Voucher)
        .where(Voucher.id.in_(due), Voucher.status == "active")
        .values(status="expired", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
