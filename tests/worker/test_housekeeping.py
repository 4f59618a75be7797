"""The clean-up every worker runs: finished jobs go after a week, dead ones stay for inspection."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import Job
from bestow.worker.housekeeping import FINISHED_JOB_RETENTION, sweep
from tests.worker.support import enqueue_one


async def test_sweep_deletes_jobs_finished_more_than_a_week_ago_but_keeps_dead_ones(
    runtime: Runtime, settings: Settings, queue: str
) -> None:
    long_ago = utcnow() - FINISHED_JOB_RETENTION - timedelta(hours=1)
    recently = utcnow() - timedelta(hours=1)
    finished = {
        "old completed": ("completed", long_ago),
        "old cancelled": ("cancelled", long_ago),
        "recent completed": ("completed", recently),
        "old dead": ("dead", long_ago),
    }
    ids = {}
    for name, (state, finished_at) in finished.items():
        ids[name] = await enqueue_one(runtime.db, "tests.anything", {}, queue=queue)
        async with runtime.db.write_session() as session:
            await session.execute(
                update(Job).where(Job.id == ids[name]).values(state=state, finished_at=finished_at)
            )
            await session.commit()

    await sweep(runtime.db, settings)

    async with runtime.db.session() as session:
        kept = set(await session.scalars(select(Job.id).where(Job.queue == queue)))
    assert kept == {ids["recent completed"], ids["old dead"]}
