"""Bulk enrollment: up to ``MAX_BULK`` players of one reward, enrolled by the worker.

The request only records the batch and enqueues ``operator.enrol_bulk`` (in the caller's
transaction, which the route commits). The task is a worker pipeline that commits on purpose,
once per chunk of ``issuance_chunk_size`` players (``process_batch``): each chunk holds the
reward in share mode, so a cancel of the reward waits for one chunk rather than for 10,000
players; the batch's counts advance with each committed chunk, so a retry after a crash or a
lost lease resumes at ``processed_count`` instead of starting over. ``fail_batch`` commits the
final ``Failed`` state in a transaction of its own, after the failed attempt's was rolled back.
Nothing else in the free-bets domain commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bestow.config import get_settings
from bestow.freebets import enrollments, events, rewards
from bestow.freebets.enrollments import Bets
from bestow.freebets.errors import BulkNotFound, NotEnrollable
from bestow.freebets.events import RewardView
from bestow.kit import isolation
from bestow.kit.db import WriteSession, bulk_insert, is_unavailable, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.jobs import JobContext, enqueue, task
from bestow.kit.timefmt import iso
from bestow.lab import worker_faults
from bestow.models import Client, OperatorEnrollment, OperatorEnrollmentBatch
from bestow.webhooks import fanout

MAX_BULK = 10_000
BULK_TASK = "operator.enrol_bulk"
BULK_CHUNK = 2_000
PENDING, PROCESSING, COMPLETED, FAILED = "Pending", "Processing", "Completed", "Failed"
MAX_ATTEMPTS = 10


async def create_batch(
    session: WriteSession,
    *,
    client_id: str,
    reward_id: str,
    player_ids: list[str],
    bet_value_minor: int | None,
    bet_count: int | None,
    created_by: str | None,
    now: datetime,
) -> OperatorEnrollmentBatch:
    """Accept a bulk enrollment at once and queue it for the worker; the reward is checked now
    and again for each chunk."""
    reward = await rewards.get(session, client_id=client_id, reward_id=reward_id)
    enrollments.check_enrollable(reward, now)
    bets = enrollments.bets_for(reward, bet_value_minor, bet_count)
    if not 1 <= len(player_ids) <= MAX_BULK:
        raise Invalid(
            f"operatorPlayerIds must have 1 to {MAX_BULK} items", field="operatorPlayerIds"
        )
    batch = OperatorEnrollmentBatch(
        client_id=client_id,
        reward_id=reward.id,
        status=PENDING,
        player_ids=player_ids,
        bet_value_minor=bets.value_minor,
        bet_count=bets.count,
        total_count=len(player_ids),
        processed_count=0,
        enrolled_count=0,
        existing_count=0,
        failed_count=0,
        created_by=created_by,
        created_at=now,
    )
    session.add(batch)
    await session.flush()
    await enqueue(session, BULK_TASK, {"batch_id": batch.id}, unique_key=f"enrol:{batch.id}")
    return batch


async def get_batch(
    session: AsyncSession, *, client_id: str, reward_id: str, batch_id: str
) -> OperatorEnrollmentBatch:
    batch = await session.get(
        OperatorEnrollmentBatch, batch_id, options=[defer(OperatorEnrollmentBatch.player_ids)]
    )
    if batch is None or batch.client_id != client_id or batch.reward_id != reward_id:
        raise BulkNotFound(f"Bulk enrollment {batch_id} was not found")
    return batch


async def process_batch(ctx: JobContext, batch_id: str, chunk_size: int = BULK_CHUNK) -> None:
    """Enrol a batch's players one chunk per transaction. Each chunk re-checks the lease and the
    reward (held in share mode, so a cancel waits for the chunk and the cascade then sees its
    enrollments); a reward that is no longer Scheduled or Active fails the players left. Players
    already enrolled, earlier or earlier in the list, count as existing."""
    from bestow.issuance.processor import fence
    from bestow.issuance.tasks import lease_for

    lease = lease_for(ctx)
    players: list[str] | None = None
    operator_id: int | None = None
    environment = "production"
    asking = True  # whether the client may have fault rules: until a chunk finds none
    while True:
        async with ctx.db.write_session() as session:
            await fence(session, lease)
            loaded = [defer(OperatorEnrollmentBatch.player_ids)] if players is not None else []
            batch = await session.get(
                OperatorEnrollmentBatch, batch_id, with_for_update=True, options=loaded
            )
            if batch is None or batch.status not in (PENDING, PROCESSING):
                return
            now = utcnow()
            if batch.status == PENDING:
                batch.status = PROCESSING
                batch.started_at = now
            if players is None:
                players = list(batch.player_ids)
                client = await session.get(Client, batch.client_id)
                operator_id = client.operator_id if client else None
                environment = client.environment if client else environment
            start = batch.processed_count
            if start < batch.total_count:
                view = await enrollments.reward_view(
                    session,
                    client_id=batch.client_id,
                    reward_id=batch.reward_id,
                    operator_id=operator_id,
                    lock=True,
                )
                chunk = players[start : start + chunk_size]
                try:
                    enrollments.check_enrollable(view.reward, now)
                except NotEnrollable as refused:
                    batch.failed_count += batch.total_count - start
                    batch.processed_count = batch.total_count
                    batch.error = str(refused)
                else:
                    forced: dict[int, str] = {}
                    if asking:
                        injected = await _injected(session, batch, environment, start, len(chunk))
                        asking = injected is not None
                        forced = injected.reasons if injected is not None else {}
                    tally = await _isolated_chunk(session, batch, view, start, chunk, now, forced)
                    batch.enrolled_count += tally["enrolled"]
                    batch.existing_count += tally["existing"]
                    batch.failed_count += tally["failed"]
                    batch.processed_count = start + len(chunk)
            if batch.processed_count >= batch.total_count:
                batch.status = COMPLETED
                batch.completed_at = now
            await session.commit()
            if batch.status == COMPLETED:
                return


async def _injected(
    session: WriteSession,
    batch: OperatorEnrollmentBatch,
    environment: str,
    start: int,
    size: int,
) -> worker_faults.Injected | None:
    """The players of the chunk (by index) that a demo or UAT client's ``partial_failure`` rules
    make fail, drawn once for the chunk (``bestow.lab.worker_faults``); the first one's reason
    goes to ``error`` as a real failure's would, and the audit log says they were injected.
    ``None``: no rule applies, stop asking for this bulk (a production client: no query)."""
    injected = await worker_faults.batch_failures(
        session,
        client_id=batch.client_id,
        environment=environment,
        surface=worker_faults.OPERATOR,
        eligible=range(start, start + size),
    )
    if injected is None or not injected.reasons:
        return injected
    worker_faults.record_injected(
        session, target_type="operator_enrollment_batch", target_id=batch.id, injected=injected
    )
    first = min(injected.reasons)
    if batch.error is None:
        batch.error = f"operatorPlayerIds[{first}]: {injected.reasons[first]}"[:500]
    return injected


async def _isolated_chunk(
    session: WriteSession,
    batch: OperatorEnrollmentBatch,
    view: RewardView,
    start: int,
    chunk: list[str],
    now: datetime,
    forced: dict[int, str] | None = None,
) -> Counter[str]:
    """Enrol one chunk in the chunk's transaction; a player whose row the database refuses fails
    alone (counted in ``failed_count``, the first such reason in ``error`` with the player's
    index) and the rest of the chunk is enrolled (``bestow.kit.isolation``). The players in
    ``forced`` (by index) fail without being enrolled (injected faults)."""

    async def attempt(first: int, players: Sequence[str]) -> Counter[str]:
        kept = [p for i, p in enumerate(players, first) if not forced or i not in forced]
        enrolled = await _enrol_chunk(session, batch, view, kept, now) if kept else 0
        return Counter(
            enrolled=enrolled, existing=len(kept) - enrolled, failed=len(players) - len(kept)
        )

    async def fail(index: int, _player: str, reason: str) -> Counter[str]:
        if batch.error is None:
            batch.error = f"operatorPlayerIds[{index}]: {reason}"[:500]
        return Counter(failed=1)

    return await isolation.isolated(session, start, chunk, attempt, fail)


async def _enrol_chunk(
    session: WriteSession,
    batch: OperatorEnrollmentBatch,
    view: RewardView,
    chunk: list[str],
    now: datetime,
) -> int:
    wanted = list(dict.fromkeys(chunk))
    existing = set(
        await session.scalars(
            select(OperatorEnrollment.operator_player_id).where(
                OperatorEnrollment.reward_id == batch.reward_id,
                OperatorEnrollment.operator_player_id.in_(wanted),
            )
        )
    )
    bets = Bets(batch.bet_value_minor, batch.bet_count)
    rows = [
        enrollments.new_row(batch.client_id, view.reward, player, bets, now, batch.id)
        for player in wanted
        if player not in existing
    ]
    if not rows:
        return 0
    await bulk_insert(session, OperatorEnrollment.__table__, rows)
    # The chunk's enrollments differ only in id and player: one answer serves as the template
    # of every event (building each from an ORM object cost ~40% of the worker's time).
    template = events.enrollment_payload(OperatorEnrollment(**rows[0]), view, now)
    stamp = iso(now) or ""
    await fanout.write_events(
        session,
        [
            events.enrolled(
                batch.client_id,
                row["id"],
                template | {"id": row["id"], "operatorPlayerId": row["operator_player_id"]},
                now,
                stamp,
            )
            for row in rows
        ],
    )
    return len(rows)


async def fail_batch(ctx: JobContext, batch_id: str, error: str) -> None:
    """The last attempt failed: the batch ends ``Failed``, its unprocessed players failed."""
    async with ctx.db.write_session() as session:
        batch = await session.get(
            OperatorEnrollmentBatch,
            batch_id,
            with_for_update=True,
            options=[defer(OperatorEnrollmentBatch.player_ids)],
        )
        if batch is None or batch.status not in (PENDING, PROCESSING):
            return
        batch.failed_count += batch.total_count - batch.processed_count
        batch.processed_count = batch.total_count
        batch.status = FAILED
        batch.error = error
        batch.completed_at = utcnow()
        await session.commit()


async def _gave_up(ctx: JobContext) -> None:
    await fail_batch(ctx, str(ctx.job.payload["batch_id"]), "attempts spent")


@task(BULK_TASK, max_attempts=MAX_ATTEMPTS, on_buried=_gave_up)
async def enrol_bulk(ctx: JobContext) -> None:
    from bestow.issuance.processor import LeaseLost

    batch_id = str(ctx.job.payload["batch_id"])
    try:
        await process_batch(ctx, batch_id, get_settings().issuance_chunk_size)
    except LeaseLost:
        raise
    except Exception as exc:
        if ctx.job.attempt >= ctx.job.max_attempts and not is_unavailable(exc):
            await fail_batch(ctx, batch_id, type(exc).__name__)
        raise
