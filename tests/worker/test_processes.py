"""``bestow worker`` processes: a killed worker's job is finished by another; SIGTERM drains."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bestow.deps import Runtime
from tests.fixtures.tasks import RECORD_EFFECT, effects
from tests.fixtures.workers import Spawn, WorkerProcess, worker_env, worker_processes
from tests.worker.support import enqueue_one, fetch_job, wait_for_job

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2


@pytest.fixture
def spawn(database_url: str, queue: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``bestow worker`` processes on the test's queue; every one is killed at the end."""
    env = worker_env(
        database_url,
        tmp_path / "var",
        BESTOW_WORKER_QUEUES=json.dumps([queue]),
        BESTOW_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        BESTOW_WORKER_POLL_SECONDS="0.1",
    )
    with worker_processes(env, tmp_path, "--import", "tests.fixtures.tasks") as start:
        yield start


def outputs(*workers: WorkerProcess) -> Callable[[], str]:
    return lambda: "\n".join(worker.output() for worker in workers)


async def wait_until(
    condition: Callable[[], bool], what: str, *workers: WorkerProcess, timeout: float = 30.0
) -> None:
    """Poll ``condition`` while the workers live; fail with their output after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(condition):
        if any(worker.process.poll() is not None for worker in workers):
            raise AssertionError(f"a worker exited before {what}\n{outputs(*workers)()}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} after {timeout} s\n{outputs(*workers)()}")
        await asyncio.sleep(0.05)


async def test_a_job_whose_worker_was_killed_is_finished_by_another_worker(
    runtime: Runtime, queue: str, effects_table: str, spawn: Spawn, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    payload = {
        "table": effects_table,
        "effect_id": "killed-mid-job",
        "started_file": str(started),
        "hold_seconds": {"1": 600},
    }
    workers = [spawn("a"), spawn("b")]
    job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
    await wait_until(started.exists, "job started", *workers)
    assert started.read_text() == "1"
    job = await fetch_job(runtime.db, job_id)
    assert (job.state, job.attempt) == ("running", 1)
    [first] = [worker for worker in workers if worker.owns(job.locked_by)]
    [second] = [worker for worker in workers if worker is not first]

    # Once started the other one polls: on SQLite its claim waits for the write lock held here.
    await wait_until(lambda: "worker.started" in second.output(), "start", second)
    first.process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.process.wait, 10)

    job = await wait_for_job(
        runtime.db,
        job_id,
        lambda job: job.state == "completed",
        timeout=60,
        describe=outputs(first, second),
    )
    assert job.attempt == 2
    assert second.owns(job.locked_by), job.locked_by
    assert await effects(runtime.db, effects_table) == [("killed-mid-job", 2, job.locked_by)]


async def test_sigterm_lets_the_running_job_finish_and_the_worker_exit_cleanly(
    runtime: Runtime, queue: str, effects_table: str, spawn: Spawn, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    payload = {
        "table": effects_table,
        "effect_id": "drained",
        "started_file": str(started),
        "hold_seconds": {"1": 1.0},
    }
    job_id = await enqueue_one(runtime.db, RECORD_EFFECT, payload, queue=queue)
    worker = spawn("only")
    await wait_until(started.exists, "job started", worker)
    worker.process.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(worker.process.wait, 30)

    assert returncode == 0, worker.output()
    job = await fetch_job(runtime.db, job_id)
    assert (job.state, job.attempt) == ("completed", 1), worker.output()
    assert await effects(runtime.db, effects_table) == [("drained", 1, job.locked_by)]
