"""A ``bestow worker`` SIGKILLed in the middle of a 10,000-identifier issuance job: another worker
finishes it, and every identifier ends with exactly one outcome."""

from __future__ import annotations

import asyncio
import functools
import random
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.issuance import tasks
from bestow.kit.jobs import JobContext
from bestow.models import IssuanceFailure, IssuanceJob, IssuedReward, Job, OutboxEvent
from tests.fixtures.workers import Spawn, WorkerProcess, worker_env, worker_processes
from tests.surfaces.partner.helpers import (
    ISSUE,
    create_campaign,
    issue_body,
    make_members,
    make_template,
    new_partner,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

LEASE_SECONDS = 2
CHUNK_SIZE = 1000
"""Small chunks make the job last long enough (10 transactions) to be killed in the middle."""

INVALID_EMAIL = "Invalid email"
INVALID_PHONE = "Invalid phone number; E.164 format required"
NOT_FOUND = "User not found"
DUPLICATE = "Duplicate identifier"
INACTIVE = "User inactive"


@pytest.fixture
def spawn(database_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``bestow worker`` processes on the test database; each is killed at the end."""
    env = worker_env(
        database_url,
        tmp_path / "var",
        BESTOW_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        BESTOW_WORKER_POLL_SECONDS="0.1",
        BESTOW_ISSUANCE_CHUNK_SIZE=str(CHUNK_SIZE),
    )
    with worker_processes(env, tmp_path) as start:
        yield start


@dataclass(frozen=True)
class Plan:
    """The identifiers of the job, and what must become of each."""

    identifiers: list[dict[str, str]]
    rewarded: dict[int, str]  # index -> member id
    failed: dict[int, str]  # index -> reason


def plan_identifiers(
    emails: dict[str, str], phones: dict[str, str], inactive: set[str], total: int
) -> Plan:
    """A shuffled mix: members by email and by phone, invalid ones, unknown ones, inactive
    members, and repeats of all of these far from their first occurrence (in other chunks)."""
    rng = random.Random(20_240_601)
    firsts: list[tuple[str, str]] = [("email", e) for e in emails]
    firsts += [("phone", p) for p in phones]
    firsts += [("email", f"broken-{n}.example.com") for n in range(300)]
    firsts += [("phone", f"415555{n:04d}") for n in range(300)]
    firsts += [("email", f"nobody-{n}@example.com") for n in range(400)]
    firsts += [("email", e) for e in inactive]
    rng.shuffle(firsts)
    repeatable = [i for i in firsts if "broken" not in i[1] and not i[1].startswith("415")]
    repeats = [
        (kind, value.upper() if kind == "email" and n % 2 else value)
        for n, (kind, value) in enumerate(rng.sample(repeatable, total - len(firsts)))
    ]
    # Repeats go to the second half, so each is in another chunk than the first occurrence
    # (most of the time; some land in the same one, which is fine too).
    half = len(firsts) // 2
    tail = firsts[half:] + repeats
    rng.shuffle(tail)
    ordered = firsts[:half] + tail

    rewarded: dict[int, str] = {}
    failed: dict[int, str] = {}
    seen: set[tuple[str, str]] = set()
    for index, (kind, value) in enumerate(ordered):
        key = (kind, value.lower())
        if "broken" in value:
            failed[index] = INVALID_EMAIL
        elif kind == "phone" and not value.startswith("+"):
            failed[index] = INVALID_PHONE
        elif key in seen:
            failed[index] = DUPLICATE
        elif value.lower() in inactive:
            failed[index] = INACTIVE
        elif kind == "email" and value.lower() in emails:
            rewarded[index] = emails[value.lower()]
        elif kind == "phone" and value in phones:
            rewarded[index] = phones[value]
        else:
            failed[index] = NOT_FOUND
        seen.add(key)
    identifiers = [{"type": kind, "value": value} for kind, value in ordered]
    return Plan(identifiers, rewarded, failed)


async def job_progress(runtime: Runtime, job_id: str) -> tuple[str, int]:
    async with runtime.db.session() as session:
        row = (
            await session.execute(
                select(IssuanceJob.state, IssuanceJob.processed_count).where(
                    IssuanceJob.id == job_id
                )
            )
        ).one()
    return str(row[0]), int(row[1])


async def wait_until(
    check: Callable[[], Any], what: str, workers: list[WorkerProcess], timeout: float
) -> Any:
    """Poll ``check`` (async) until it returns something true; fail with the workers' logs."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if any(w.process.poll() is not None for w in workers):
            raise AssertionError(f"a worker exited before {what}\n" + outputs(workers))
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} after {timeout} s\n" + outputs(workers))
        await asyncio.sleep(0.02)


async def _started(worker: WorkerProcess) -> bool:
    return "worker.started" in worker.output()


async def worker_job(runtime: Runtime, job_id: str) -> Job:
    """The row of the jobs table that processes the issuance job."""
    async with runtime.db.session() as session:
        job = await session.scalar(select(Job).where(Job.unique_key == f"issue:{job_id}"))
    assert job is not None
    return job


def outputs(workers: list[WorkerProcess]) -> str:
    return "\n".join(w.output() for w in workers)


async def test_a_job_whose_worker_was_killed_is_finished_exactly_once(
    database_url: str, runtime: Runtime, app_client: httpx.AsyncClient, spawn: Spawn
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the worker-kill test runs on PostgreSQL")
    # Two workers, started first (they take a while to boot) and ready before the job exists:
    # whichever claims it is killed once it is under way; the other one takes it over.
    workers = [spawn("a"), spawn("b")]
    partner = await new_partner(runtime)
    template = await make_template(runtime, partner.merchant_id)
    campaign = await create_campaign(app_client, partner, template.id)

    email_values = [f"member-{n}@example.com" for n in range(6_000)]
    phone_values = [f"+1415{200 + n // 10_000:03d}{n % 10_000:04d}" for n in range(1_500)]
    inactive = [f"gone-{n}@example.com" for n in range(200)]
    email_ids = await make_members(runtime, partner.merchant_id, emails=email_values)
    phone_ids = await make_members(runtime, partner.merchant_id, phones=phone_values)
    await make_members(runtime, partner.merchant_id, emails=inactive, status="inactive")
    plan = plan_identifiers(
        dict(zip(email_values, email_ids, strict=True)),
        dict(zip(phone_values, phone_ids, strict=True)),
        set(inactive),
        total=10_000,
    )
    assert len(plan.identifiers) == 10_000
    assert len(plan.rewarded) + len(plan.failed) == 10_000

    for worker in workers:
        started = functools.partial(_started, worker)
        await wait_until(started, f"start of worker {worker.name}", workers, timeout=60)
    response = await app_client.post(
        ISSUE,
        headers=partner.headers(),
        json=issue_body(partner, campaign, plan.identifiers, "Treatment"),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["issuance_job"]["id"]

    async def under_way() -> bool:
        state, processed = await job_progress(runtime, job_id)
        return state == "processing" and processed > 0

    await wait_until(under_way, "progress", workers, timeout=60)
    locked_by = (await worker_job(runtime, job_id)).locked_by or ""
    [first] = [w for w in workers if f":{w.process.pid}:" in locked_by]
    [second] = [w for w in workers if w is not first]
    first.process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.process.wait, 10)
    state, processed_at_kill = await job_progress(runtime, job_id)
    assert (state, processed_at_kill < 10_000) == ("processing", True), (
        f"the job finished before the kill ({state}, {processed_at_kill}); make it slower"
    )

    async def finished() -> bool:
        return (await job_progress(runtime, job_id))[0] in ("completed", "failed")

    await wait_until(finished, "finished job", [second], timeout=90)

    async with runtime.db.session() as session:
        job = await session.get(IssuanceJob, job_id)
        assert job is not None
        reward_rows = (
            await session.execute(
                select(
                    IssuedReward.id, IssuedReward.identifier_index, IssuedReward.member_id
                ).where(IssuedReward.job_id == job_id)
            )
        ).all()
        failures = (
            await session.execute(
                select(IssuanceFailure.identifier_index, IssuanceFailure.error).where(
                    IssuanceFailure.job_id == job_id
                )
            )
        ).all()
        event_rows = await session.execute(
            select(OutboxEvent.type, OutboxEvent.subject_id).where(
                OutboxEvent.client_id == partner.client_id
            )
        )
        events = Counter((str(kind), str(subject)) for kind, subject in event_rows)

    # The other worker finished it, on a later attempt.
    finisher = await worker_job(runtime, job_id)
    assert finisher.attempt >= 2 and f":{second.process.pid}:" in (finisher.locked_by or "")
    assert job.state == "completed"
    assert job.total_count == job.processed_count == 10_000
    assert job.success_count + job.failure_count == job.total_count
    assert (job.success_count, job.failure_count) == (len(plan.rewarded), len(plan.failed))

    rewards = [(int(index or 0), str(member)) for _, index, member in reward_rows]
    by_index = Counter(index for index, _ in rewards)
    by_member = Counter(member for _, member in rewards)
    assert [i for i, n in by_index.items() if n > 1] == []
    assert [m for m, n in by_member.items() if n > 1] == []
    assert dict(rewards) == plan.rewarded
    assert len(rewards) == len(plan.rewarded)

    assert len(failures) == len({index for index, _ in failures})
    wrong = {
        index: (error, plan.failed.get(index))
        for index, error in failures
        if plan.failed.get(index) != error
    }
    assert wrong == {}
    assert len(failures) == len(plan.failed)

    # One reward.issued per reward, and one reward_batch.completed.
    issued = Counter(subject for kind, subject in events.elements() if kind == "reward.issued")
    assert issued == Counter(str(reward_id) for reward_id, _, _ in reward_rows)
    assert events[("reward_batch.completed", job_id)] == 1


async def test_the_job_is_fenced_with_the_workers_own_lease(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk renews the lease for the configured time, not longer: a killed worker's job
    must be free for another after BESTOW_WORKER_LEASE_SECONDS, not after some fixed default."""
    configured = settings.model_copy(update={"worker_lease_seconds": LEASE_SECONDS})
    monkeypatch.setattr(tasks, "get_settings", lambda: configured)
    job = Job(id="job_x", attempt=3)
    async with runtime.db.session() as session:
        ctx = JobContext(job=job, session=session, db=runtime.db, worker_id="w:1:x")
        lease = tasks.lease_for(ctx)
    assert (lease.job_id, lease.attempt, lease.worker_id) == ("job_x", 3, "w:1:x")
    assert lease.duration.total_seconds() == LEASE_SECONDS
