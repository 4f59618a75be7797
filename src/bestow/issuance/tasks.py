"""Worker tasks of batch issuance: process a job, revoke a job.

Who commits: ``process`` leaves it to ``processor.process_job``, which commits per chunk (see
there); ``revoke`` commits once, in a write session of its own, after re-checking the lease
(``processor.fence``) in that same transaction, so that a worker that lost the job commits
nothing. Neither uses the runner's job session for this work: the runner commits that one with
the job's completion (``worker.runner``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bestow.config import get_settings
from bestow.issuance import events, processor
from bestow.issuance.service import PROCESS_TASK, REVOKE_TASK
from bestow.kit.db import is_unavailable, utcnow
from bestow.kit.jobs import JobContext, task
from bestow.kit.outbox import event_row
from bestow.kit.timefmt import iso
from bestow.models import IssuanceJob, IssuedReward
from bestow.rewards import kinds
from bestow.webhooks import fanout

MAX_ATTEMPTS = 10


def lease_for(ctx: JobContext) -> processor.Lease:
    # The worker's own lease: renewing for longer would keep a dead worker's job from the others.
    default = timedelta(seconds=get_settings().worker_lease_seconds)
    duration: timedelta = ctx.data.get("lease", default)
    return processor.Lease(ctx.job.id, ctx.job.attempt, ctx.worker_id, duration)


ATTEMPTS_SPENT = "attempts spent"
"""The error of a job whose every attempt's worker died on it (a job that kills its workers)."""


async def gave_up(ctx: JobContext) -> None:
    await processor.fail_job(ctx.db, job_id=str(ctx.job.payload["job_id"]), error=ATTEMPTS_SPENT)


@task(PROCESS_TASK, max_attempts=MAX_ATTEMPTS, on_buried=gave_up)
async def process(ctx: JobContext) -> None:
    job_id = str(ctx.job.payload["job_id"])
    settings = get_settings()
    try:
        await processor.process_job(
            ctx.db,
            job_id=job_id,
            lease=lease_for(ctx),
            chunk_size=settings.issuance_chunk_size,
        )
    except processor.LeaseLost:
        raise
    except Exception as exc:
        # An outage spends no attempt (``kit.jobs``): the job is retried until the database is back.
        if ctx.job.attempt >= ctx.job.max_attempts and not is_unavailable(exc):
            await processor.fail_job(ctx.db, job_id=job_id, error=type(exc).__name__)
        raise


@task(REVOKE_TASK, max_attempts=MAX_ATTEMPTS)
async def revoke(ctx: JobContext) -> None:
    """Revoke every active reward of the job (and void what its kind issued with them), then
    mark it ``revoked``, in one transaction."""
    job_id = str(ctx.job.payload["job_id"])
    async with ctx.db.write_session() as session:
        await processor.fence(session, lease_for(ctx))
        job = await session.get(IssuanceJob, job_id, with_for_update=True)
        if job is None or job.state != "revoking":
            return
        now = utcnow()
        stamp = iso(now)
        revoked = await session.execute(
            update(IssuedReward)
            .where(IssuedReward.job_id == job_id, IssuedReward.state == "active")
            .values(state="revoked", revoked_at=now)
            .returning(
                IssuedReward.id,
                IssuedReward.member_id,
                IssuedReward.identifier_index,
                IssuedReward.kind,
            )
            .execution_options(synchronize_session=False)
        )
        revoked_rows = revoked.all()
        for kind_name in {kind for *_, kind in revoked_rows}:
            reward_kind = kinds.get(kind_name)
            if reward_kind.revoke is not None:
                await reward_kind.revoke(session, job_id, now)
        rewards = [
            event_row(
                events.REWARD_REVOKED,
                subject_type="reward",
                subject_id=reward_id,
                client_id=job.client_id,
                merchant_id=job.merchant_id,
                now=now,
                stamp=stamp,
                data={
                    "issuance_job_id": job.id,
                    "merchant_id": job.merchant_id,
                    "reward_id": reward_id,
                    "identifier": {"index": index},
                    "user_id": member_id,
                    "state": "revoked",
                    "revoked_at": stamp,
                },
            )
            for reward_id, member_id, index, _ in revoked_rows
        ]
        job.revoked_count = int(
            await session.scalar(
                select(func.count())
                .select_from(IssuedReward)
                .where(IssuedReward.job_id == job_id, IssuedReward.state == "revoked")
            )
            or 0
        )
        job.state = "revoked"
        job.revoked_at = now
        batch = event_row(
            events.REWARD_BATCH_REVOKED,
            subject_type="issuance_job",
            subject_id=job.id,
            client_id=job.client_id,
            merchant_id=job.merchant_id,
            now=now,
            data={
                "issuance_job_id": job.id,
                "merchant_id": job.merchant_id,
                "state": job.state,
                "revoked_count": job.revoked_count,
            },
        )
        await fanout.write_events(session, [*rewards, batch])
        await session.commit()
