"""The jobs table: enqueue in the caller's transaction, claiming, leases and their fencing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bestow.deps import Runtime
from bestow.kit import jobs
from bestow.kit.db import Database, utcnow
from bestow.models import Job
from tests.worker.support import delete_queue, enqueue_one, fetch_job, unique_queue

KIND = "tests.anything"
LEASE = timedelta(seconds=60)


@pytest.fixture
async def queue(runtime: Runtime) -> AsyncIterator[str]:
    name = unique_queue()
    yield name
    await delete_queue(runtime.db, name)


async def count_jobs(db: Database, queue: str) -> int:
    async with db.session() as session:
        count = await session.scalar(select(func.count()).where(Job.queue == queue))
    return count or 0


async def claim(db: Database, queue: str, worker_id: str, *, limit: int = 10) -> list[Job]:
    async with db.write_session() as session:
        claimed = await jobs.claim(
            session, worker_id=worker_id, limit=limit, lease=LEASE, queues=[queue]
        )
        await session.commit()
    return claimed


async def expire_lease(db: Database, job_id: str) -> None:
    async with db.write_session() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_an_enqueue_rolled_back_with_its_transaction_leaves_no_job(
    runtime: Runtime, queue: str
) -> None:
    async with runtime.db.write_session() as session:
        assert await jobs.enqueue(session, KIND, {"n": 1}, queue=queue) is not None
        await session.rollback()
    assert await count_jobs(runtime.db, queue) == 0


async def test_an_enqueue_committed_with_its_transaction_leaves_one_available_job(
    runtime: Runtime, queue: str
) -> None:
    async with runtime.db.write_session() as session:
        job_id = await jobs.enqueue(session, KIND, {"n": 1}, queue=queue, max_attempts=7)
        await session.commit()
    assert job_id is not None
    assert await count_jobs(runtime.db, queue) == 1
    job = await fetch_job(runtime.db, job_id)
    assert (job.kind, job.state, job.attempt, job.max_attempts) == (KIND, "available", 0, 7)
    assert job.payload == {"n": 1}


async def test_a_unique_key_enqueues_the_job_once(runtime: Runtime, queue: str) -> None:
    key = f"{queue}:once"
    async with runtime.db.write_session() as session:
        first = await jobs.enqueue(session, KIND, queue=queue, unique_key=key)
        second = await jobs.enqueue(session, KIND, queue=queue, unique_key=key)
        await session.commit()
    async with runtime.db.write_session() as session:
        third = await jobs.enqueue(session, KIND, queue=queue, unique_key=key)
        await session.commit()
    assert first is not None
    assert second is None
    assert third is None
    assert await count_jobs(runtime.db, queue) == 1


async def test_a_registered_task_gives_its_queue_and_attempts_to_the_job(
    runtime: Runtime, queue: str
) -> None:
    kind = f"tests.registered.{queue}"
    jobs.task(kind, max_attempts=4, queue=queue)(_noop)
    async with runtime.db.write_session() as session:
        job_id = await jobs.enqueue(session, kind)
        await session.commit()
    assert job_id is not None
    job = await fetch_job(runtime.db, job_id)
    assert (job.queue, job.max_attempts) == (queue, 4)


async def _noop(_ctx: jobs.JobContext) -> None:
    return None


async def test_concurrent_claimers_claim_every_job_exactly_once(
    runtime: Runtime, queue: str
) -> None:
    async with runtime.db.write_session() as session:
        enqueued = {await jobs.enqueue(session, KIND, {"n": n}, queue=queue) for n in range(500)}
        await session.commit()

    async def claimer(worker_id: str) -> list[str]:
        mine: list[str] = []
        while batch := await claim(runtime.db, queue, worker_id, limit=5):
            mine.extend(job.id for job in batch)
        return mine

    results = await asyncio.gather(*(claimer(f"claimer-{n}") for n in range(4)))
    times_claimed = Counter(job_id for ids in results for job_id in ids)
    assert [job_id for job_id, times in times_claimed.items() if times > 1] == []
    assert set(times_claimed) == enqueued
    assert len(enqueued) == 500
    async with runtime.db.session() as session:
        attempts = await session.scalars(select(Job.attempt).where(Job.queue == queue))
        assert set(attempts) == {1}


async def test_a_job_scheduled_for_later_is_not_claimed_before_its_time(
    runtime: Runtime, queue: str
) -> None:
    async with runtime.db.write_session() as session:
        await jobs.enqueue(session, KIND, queue=queue, run_at=utcnow() + timedelta(minutes=5))
        await session.commit()
    assert await claim(runtime.db, queue, "w") == []


async def test_the_highest_priority_job_is_claimed_first(runtime: Runtime, queue: str) -> None:
    async with runtime.db.write_session() as session:
        await jobs.enqueue(session, KIND, {"p": 0}, queue=queue)
        await jobs.enqueue(session, KIND, {"p": 5}, queue=queue, priority=5)
        await session.commit()
    [job] = await claim(runtime.db, queue, "w", limit=1)
    assert job.payload == {"p": 5}


async def test_a_running_job_within_its_lease_is_not_claimed_again(
    runtime: Runtime, queue: str
) -> None:
    await enqueue_one(runtime.db, KIND, {}, queue=queue)
    assert len(await claim(runtime.db, queue, "first")) == 1
    assert await claim(runtime.db, queue, "second") == []


async def test_a_job_whose_lease_lapsed_is_claimed_again_with_the_next_attempt(
    runtime: Runtime, queue: str
) -> None:
    job_id = await enqueue_one(runtime.db, KIND, {}, queue=queue)
    await claim(runtime.db, queue, "first")
    await expire_lease(runtime.db, job_id)
    [job] = await claim(runtime.db, queue, "second")
    assert (job.id, job.attempt, job.locked_by, job.state) == (job_id, 2, "second", "running")


async def test_completing_after_another_worker_took_the_job_over_changes_nothing(
    runtime: Runtime, queue: str
) -> None:
    job_id = await enqueue_one(runtime.db, KIND, {}, queue=queue)
    [stale] = await claim(runtime.db, queue, "first")
    await expire_lease(runtime.db, job_id)
    await claim(runtime.db, queue, "second")
    async with runtime.db.write_session() as session:
        assert await jobs.complete(session, stale, "first") is False
        assert await jobs.fail(session, stale, "first", "late failure") is None
        await session.commit()
    job = await fetch_job(runtime.db, job_id)
    assert (job.state, job.locked_by, job.attempt, job.last_error) == (
        "running",
        "second",
        2,
        None,
    )


async def test_a_worker_cannot_complete_an_attempt_it_no_longer_holds(
    runtime: Runtime, queue: str
) -> None:
    job_id = await enqueue_one(runtime.db, KIND, {}, queue=queue)
    [first_attempt] = await claim(runtime.db, queue, "same-worker")
    await expire_lease(runtime.db, job_id)
    [second_attempt] = await claim(runtime.db, queue, "same-worker")
    async with runtime.db.write_session() as session:
        assert await jobs.complete(session, first_attempt, "same-worker") is False
        assert await jobs.complete(session, second_attempt, "same-worker") is True
        await session.commit()
    job = await fetch_job(runtime.db, job_id)
    assert (job.state, job.attempt) == ("completed", 2)
    assert job.finished_at is not None


async def test_a_heartbeat_extends_only_the_leases_the_worker_holds(
    runtime: Runtime, queue: str
) -> None:
    await enqueue_one(runtime.db, KIND, {}, queue=queue)
    await enqueue_one(runtime.db, KIND, {}, queue=queue)
    [mine] = await claim(runtime.db, queue, "me", limit=1)
    [theirs] = await claim(runtime.db, queue, "them", limit=1)
    async with runtime.db.write_session() as session:
        held = await jobs.extend_lease(session, [mine.id, theirs.id], "me", timedelta(hours=1))
        await session.commit()
    assert held == 1
    mine_until = (await fetch_job(runtime.db, mine.id)).locked_until
    assert mine_until is not None
    assert mine_until > utcnow() + timedelta(minutes=30)
    assert (await fetch_job(runtime.db, theirs.id)).locked_until == theirs.locked_until


def test_backoff_grows_exponentially_and_is_capped_at_an_hour() -> None:
    assert timedelta(seconds=1.6) <= jobs.backoff(1) <= timedelta(seconds=2.4)
    assert timedelta(seconds=6.4) <= jobs.backoff(3) <= timedelta(seconds=9.6)
    assert jobs.backoff(10_000) <= timedelta(hours=1.2)


async def test_an_attempt_failed_by_an_outage_is_retried_soon_without_spending_an_attempt(
    runtime: Runtime, queue: str
) -> None:
    """On its last attempt too: the database being away says nothing about the job."""
    async with runtime.db.write_session() as session:
        job_id = await jobs.enqueue(session, KIND, {}, queue=queue, max_attempts=1)
        await session.commit()
    assert job_id is not None
    [job] = await claim(runtime.db, queue, "worker")
    assert (job.attempt, job.max_attempts) == (1, 1)
    async with runtime.db.write_session() as session:
        state = await jobs.fail(session, job, "worker", "InterfaceError", outage=True)
        await session.commit()
    after = await fetch_job(runtime.db, job_id)
    assert (state, after.state, after.attempt, after.max_attempts) == (
        "available",
        "available",
        1,
        2,
    )
    assert after.run_at <= utcnow() + timedelta(seconds=jobs.OUTAGE_BACKOFF_CAP_SECONDS * 1.2)

    await expire_lease(runtime.db, job_id)
    async with runtime.db.write_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        await session.commit()
    [again] = await claim(runtime.db, queue, "worker")
    async with runtime.db.write_session() as session:
        assert await jobs.fail(session, again, "worker", "ValueError: a bug") == "dead"
        await session.commit()
    assert (await fetch_job(runtime.db, job_id)).state == "dead"


def test_an_outage_backoff_is_capped_at_half_a_minute() -> None:
    assert jobs.backoff(20, cap=jobs.OUTAGE_BACKOFF_CAP_SECONDS) <= timedelta(seconds=36)
