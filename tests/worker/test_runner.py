"""The worker in this process: retries, burial, leases held and lost, polling and wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import Job
from tests.fixtures.tasks import ALWAYS_FAILS, RECORD_EFFECT, effects
from tests.worker.support import (
    enqueue_one,
    fetch_job,
    make_due_now,
    running_worker,
    wait_for_job,
)


def failed_attempt(attempt: int) -> Callable[[Job], bool]:
    return lambda job: job.attempt == attempt and job.state != "running"


async def test_a_failing_job_is_retried_with_backoff_then_buried(
    runtime: Runtime, settings: Settings, queue: str
) -> None:
    db = runtime.db
    job_id = await enqueue_one(db, ALWAYS_FAILS, {}, queue=queue)
    async with running_worker(db, settings, queue):
        before = utcnow()
        job = await wait_for_job(db, job_id, failed_attempt(1))
        assert job.state == "available"
        assert job.last_error == "RuntimeError: boom on attempt 1"
        assert job.run_at >= before + timedelta(seconds=1.6)
        assert job.locked_until is None

        before = utcnow()
        await make_due_now(db, job_id)
        job = await wait_for_job(db, job_id, failed_attempt(2))
        assert job.state == "available"
        assert job.last_error == "RuntimeError: boom on attempt 2"
        assert job.run_at >= before + timedelta(seconds=3.2)

        await make_due_now(db, job_id)
        job = await wait_for_job(db, job_id, failed_attempt(3))
    assert (job.state, job.max_attempts) == ("dead", 3)
    assert job.last_error == "RuntimeError: boom on attempt 3"
    assert job.finished_at is not None


async def test_a_job_of_a_kind_without_a_handler_goes_dead(
    runtime: Runtime, settings: Settings, queue: str
) -> None:
    job_id = await enqueue_one(runtime.db, "tests.nobody_handles_this", {}, queue=queue)
    async with running_worker(runtime.db, settings, queue):
        job = await wait_for_job(runtime.db, job_id, lambda job: job.state == "dead")
    assert job.attempt == 1
    assert job.last_error == "no handler for this kind"


async def test_a_job_whose_attempts_are_spent_goes_dead_without_running(
    runtime: Runtime, settings: Settings, queue: str, effects_table: str
) -> None:
    """A job whose every worker died on it (a poison job) is buried when claimed once too often."""
    payload = {"table": effects_table, "effect_id": "poison"}
    job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                state="running",
                attempt=Job.max_attempts,
                locked_by="a-worker-that-died",
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
        await session.commit()
    async with running_worker(runtime.db, settings, queue):
        job = await wait_for_job(runtime.db, job_id, lambda job: job.state == "dead")
    assert job.attempt == job.max_attempts + 1
    assert job.last_error == "attempts spent"
    assert await effects(runtime.db, effects_table) == []


async def test_a_job_keeps_its_lease_while_it_runs_longer_than_the_lease(
    runtime: Runtime, settings: Settings, queue: str, effects_table: str
) -> None:
    payload = {"table": effects_table, "effect_id": "long", "wait_seconds": 2.5}
    job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
    async with (
        running_worker(runtime.db, settings, queue, worker_lease_seconds=0.9),
        running_worker(runtime.db, settings, queue, worker_lease_seconds=0.9),
    ):
        job = await wait_for_job(runtime.db, job_id, lambda job: job.state == "completed")
    assert job.attempt == 1
    assert await effects(runtime.db, effects_table) == [("long", 1, job.locked_by)]


async def test_a_job_taken_over_while_it_ran_leaves_no_effect(
    runtime: Runtime, settings: Settings, queue: str, effects_table: str
) -> None:
    payload = {"table": effects_table, "effect_id": "lost", "wait_seconds": 1.0}
    job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
    async with running_worker(runtime.db, settings, queue) as worker:
        await wait_for_job(runtime.db, job_id, lambda job: job.locked_by == worker.worker_id)
        async with runtime.db.write_session() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(locked_by="another-worker", attempt=Job.attempt + 1)
            )
            await session.commit()
    job = await fetch_job(runtime.db, job_id)
    assert (job.state, job.locked_by, job.attempt) == ("running", "another-worker", 2)
    assert await effects(runtime.db, effects_table) == []


async def test_an_idle_worker_polls_once_per_interval(
    runtime: Runtime, settings: Settings, queue: str
) -> None:
    # Counted in polls, not in seconds: a loaded machine makes the polls late, never early, so
    # the test waits for a number of polls and checks they took at least about that many
    # intervals (a busy loop would make them all within milliseconds).
    interval, polls = 0.1, 6
    loop = asyncio.get_running_loop()
    claims: list[float] = []
    polled = asyncio.Event()

    def count_claims(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Runs in the event loop's thread (SQLAlchemy's asyncio greenlet), for both drivers.
        if statement.lstrip().upper().startswith("UPDATE JOBS SET STATE"):
            claims.append(loop.time())
            if len(claims) >= polls:
                polled.set()

    engine = runtime.db.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_claims)
    try:
        async with running_worker(runtime.db, settings, queue, worker_poll_seconds=interval):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(polled.wait(), 30)
    finally:
        event.remove(engine, "before_cursor_execute", count_claims)
    assert len(claims) >= polls, f"{len(claims)} polls in 30 s"
    assert claims[polls - 1] - claims[0] >= (polls - 1) * interval / 2


async def test_an_enqueue_wakes_an_idle_worker_on_postgresql(
    runtime: Runtime, settings: Settings, queue: str, effects_table: str
) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has no NOTIFY; its workers poll")
    async with running_worker(runtime.db, settings, queue, worker_poll_seconds=60):
        for n in range(2):
            payload = {"table": effects_table, "effect_id": f"woken-{n}"}
            job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
            await wait_for_job(runtime.db, job_id, lambda job: job.state == "completed", timeout=10)
