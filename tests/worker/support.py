"""Helpers for tests of the jobs table and the worker: enqueue, read and wait on jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete, update

from bestow.config import Settings
from bestow.kit import jobs
from bestow.kit.db import Database, utcnow
from bestow.models import Job
from bestow.worker.runner import Worker


def unique_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def delete_queue(db: Database, queue: str) -> None:
    async with db.write_session() as session:
        await session.execute(delete(Job).where(Job.queue == queue))
        await session.commit()


async def enqueue_one(db: Database, kind: str, payload: dict[str, Any], *, queue: str) -> str:
    async with db.write_session() as session:
        job_id = await jobs.enqueue(session, kind, payload, queue=queue)
        await session.commit()
    assert job_id is not None
    return job_id


async def fetch_job(db: Database, job_id: str) -> Job:
    async with db.session() as session:
        job = await session.get(Job, job_id)
    assert job is not None, f"job {job_id} is gone"
    return job


async def make_due_now(db: Database, job_id: str) -> None:
    """Travel past a retry's backoff rather than wait for it."""
    async with db.write_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        await session.commit()


async def wait_for_job(
    db: Database,
    job_id: str,
    until: Callable[[Job], bool],
    *,
    timeout: float = 20.0,
    describe: Callable[[], str] = lambda: "",
) -> Job:
    """Poll the job until ``until`` holds; fail with its last state after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await fetch_job(db, job_id)
        if until(job):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"job {job_id} still {job.state} (attempt {job.attempt}, locked by "
                f"{job.locked_by}, last error {job.last_error!r}) after {timeout} s\n{describe()}"
            )
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running_worker(
    db: Database, settings: Settings, queue: str, **overrides: Any
) -> AsyncIterator[Worker]:
    """A worker on ``queue`` in this process; stopped (and drained) on exit."""
    worker = Worker(db, settings.model_copy(update=overrides), queues=[queue])
    run = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(run, timeout=30)
