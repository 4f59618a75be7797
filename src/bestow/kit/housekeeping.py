"""Periodic clean-up run by every worker; each statement is safe to run concurrently."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from bestow.config import Settings
from bestow.kit.db import Database, utcnow
from bestow.models import IdempotencyRecord, Job

FINISHED_JOB_RETENTION = timedelta(days=7)


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
