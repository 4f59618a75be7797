"""Operator API enrollments (Gamnify-compatible): players enrolled in a ``FreeBets`` reward, the
free bets a game server uses, and bulk enrollment through the worker.

Lifecycle (``docs/operator-api.md``, "Enrollments")::

    New --first bet--> Active --last bet--> Completed
    New | Active --reward/campaign/enrollment cancelled--> Cancelled
    New | Active --endTimeUtc passed--> Expired (derived when read)

One enrollment per (reward, player): enrolling a player again answers the enrollment they have.
A bet is used once per ``betId``: a repeat answers what the first call answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bestow.campaigns import operator as campaigns
from bestow.campaigns import operator_rewards as rewards
from bestow.config import get_settings
from bestow.kit import isolation
from bestow.kit.db import bulk_insert, dialect_of, insert_ignore, is_unavailable, utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.ids import new_id
from bestow.kit.jobs import JobContext, enqueue, task
from bestow.kit.outbox import event_row, event_type
from bestow.kit.timefmt import iso
from bestow.models import (
    Campaign,
    Client,
    OperatorEnrollment,
    OperatorEnrollmentBatch,
    OperatorFreeBet,
    OperatorReward,
)
from bestow.webhooks import fanout

NEW = "New"
ACTIVE = "Active"
COMPLETED = "Completed"
EXPIRED = "Expired"
CANCELLED = "Cancelled"
STATUSES = (NEW, ACTIVE, COMPLETED, EXPIRED, CANCELLED)
OPEN = campaigns.OPEN_ENROLLMENT
MAX_BULK = 10_000
BULK_TASK = "operator.enrol_bulk"
BULK_CHUNK = 2_000
PENDING, PROCESSING, FAILED = "Pending", "Processing", "Failed"
MAX_ATTEMPTS = 10

FREEBETS_ENROLLED = event_type(
    "freebets.enrolled", "A player was enrolled in an Operator API reward", surface="operator"
)
FREEBETS_COMPLETED = event_type(
    "freebets.completed",
    "A player used the last free bet of an Operator API enrollment",
    surface="operator",
)

BET_VALUE_FIXED = "betValue must be {value} for this Fixed reward (or omitted)"
BET_COUNT_FIXED = "betCount must be {count} for this Fixed reward (or omitted)"
BET_VALUE_RANGE = "betValue is required for a Ranged reward and must be from {low} to {high}"
BET_COUNT_RANGE = "betCount is required for a Ranged reward and must be from {low} to {high}"
PRODUCT = "product {product} is not one of the reward's products"


@dataclass(frozen=True)
class Bets:
    """What each player of an enrollment receives: the value of one bet (hundredths) and how
    many bets."""

    value_minor: int
    count: int


@dataclass(frozen=True)
class RewardView:
    """What an enrollment's answer repeats of its reward, campaign and operator."""

    reward: OperatorReward
    campaign_reference: str | None
    operator_id: int | None


@dataclass(frozen=True)
class Bet:
    bet: OperatorFreeBet
    enrollment: OperatorEnrollment


def enrollment_status(enrollment: OperatorEnrollment, now: datetime) -> str:
    """The stored status, except that an open enrollment past its end is ``Expired``."""
    if enrollment.status in OPEN and now >= enrollment.end_at:
        return EXPIRED
    return enrollment.status


def _amount(minor: int) -> str:
    return f"{minor / 100:.2f}"


def bets_for(reward: OperatorReward, value_minor: int | None, count: int | None) -> Bets:
    """The bets a player of ``reward`` receives: a Fixed reward's own (a given value or count
    must match), a Ranged reward's chosen within its ranges (both required)."""
    low_value, high_value = reward.min_bet_value_minor, reward.max_bet_value_minor
    low_count, high_count = reward.min_bet_count, reward.max_bet_count
    if reward.details_type == rewards.FIXED:
        if value_minor is not None and value_minor != low_value:
            raise Invalid(BET_VALUE_FIXED.format(value=_amount(low_value)), field="betValue")
        if count is not None and count != low_count:
            raise Invalid(BET_COUNT_FIXED.format(count=low_count), field="betCount")
        return Bets(low_value, low_count)
    if value_minor is None or not low_value <= value_minor <= high_value:
        raise Invalid(
            BET_VALUE_RANGE.format(low=_amount(low_value), high=_amount(high_value)),
            field="betValue",
        )
    if count is None or not low_count <= count <= high_count:
        raise Invalid(BET_COUNT_RANGE.format(low=low_count, high=high_count), field="betCount")
    return Bets(value_minor, count)


def _check_enrollable(reward: OperatorReward, now: datetime) -> None:
    current = rewards.reward_status(reward, now)
    if current not in rewards.CANCELLABLE:
        raise Conflict(
            f"Reward {reward.id} is {current.value}: players can be enrolled only in a "
            "Scheduled or Active reward"
        )


def enrollment_json(
    enrollment: OperatorEnrollment, view: RewardView, now: datetime
) -> dict[str, Any]:
    """The vendor's enrollment object, with our additions (``campaignId``, ``completedAtUtc``,
    ``cancelledBy``)."""
    reward = view.reward
    return {
        "rewardType": reward.reward_type,
        "id": enrollment.id,
        "operatorId": view.operator_id,
        "rewardId": enrollment.reward_id,
        "campaignId": enrollment.campaign_id,
        "campaignOperatorReference": view.campaign_reference,
        "rewardOperatorReference": reward.operator_reference,
        "operatorPlayerId": enrollment.operator_player_id,
        "products": list(reward.products),
        "status": enrollment_status(enrollment, now),
        "startTimeUtc": iso(enrollment.start_at),
        "endTimeUtc": iso(enrollment.end_at),
        "betValue": rewards.money(enrollment.bet_value_minor),
        "currencyIsoCode": reward.currency,
        "totalBetCount": enrollment.total_bet_count,
        "remainingBetCount": enrollment.remaining_bet_count,
        "creditWalletType": reward.credit_wallet_type,
        "stakeNotReturned": reward.stake_not_returned,
        "createdAtUtc": iso(enrollment.created_at),
        "updatedAtUtc": iso(enrollment.updated_at),
        "completedAtUtc": iso(enrollment.completed_at),
        "cancelledAtUtc": iso(enrollment.cancelled_at),
        "cancelledBy": enrollment.cancelled_by,
    }


def _row(
    client_id: str,
    reward: OperatorReward,
    player_id: str,
    bets: Bets,
    now: datetime,
    batch_id: str | None,
) -> dict[str, Any]:
    return {
        "id": new_id("oen"),
        "client_id": client_id,
        "campaign_id": reward.campaign_id,
        "reward_id": reward.id,
        "operator_player_id": player_id,
        "status": NEW,
        "bet_value_minor": bets.value_minor,
        "total_bet_count": bets.count,
        "remaining_bet_count": bets.count,
        "start_at": reward.start_at,
        "end_at": reward.end_at,
        "batch_id": batch_id,
        "created_at": now,
        "updated_at": None,
        "completed_at": None,
        "cancelled_at": None,
        "cancelled_by": None,
    }


def _enrolled_event(
    client_id: str, enrollment_id: str, data: dict[str, Any], now: datetime, stamp: str
) -> dict[str, Any]:
    return event_row(
        FREEBETS_ENROLLED,
        subject_type="enrollment",
        subject_id=enrollment_id,
        client_id=client_id,
        now=now,
        stamp=stamp,
        data=data,
    )


async def _find(session: AsyncSession, reward_id: str, player_id: str) -> OperatorEnrollment | None:
    found: OperatorEnrollment | None = await session.scalar(
        select(OperatorEnrollment).where(
            OperatorEnrollment.reward_id == reward_id,
            OperatorEnrollment.operator_player_id == player_id,
        )
    )
    return found


async def reward_view(
    session: AsyncSession,
    *,
    client_id: str,
    reward_id: str,
    operator_id: int | None,
    lock: bool = False,
) -> RewardView:
    reward, reference = await rewards.get_with_campaign_reference(
        session, client_id=client_id, reward_id=reward_id, lock=lock
    )
    return RewardView(reward, reference, operator_id)


async def enrol(
    session: AsyncSession,
    *,
    client_id: str,
    view: RewardView,
    player_id: str,
    bet_value_minor: int | None,
    bet_count: int | None,
    now: datetime,
) -> OperatorEnrollment:
    """Enrol a player in a Scheduled or Active reward (``view`` read with ``lock=True``), or
    answer the enrollment they already have. Concurrent first enrollments of one player meet on
    the (reward, player) unique key: one inserts, the other reads its row."""
    reward = view.reward
    existing = await _find(session, reward.id, player_id)
    if existing is not None:
        return existing
    _check_enrollable(reward, now)
    bets = bets_for(reward, bet_value_minor, bet_count)
    row = _row(client_id, reward, player_id, bets, now, None)
    inserted = await session.execute(
        insert_ignore(
            dialect_of(session),
            OperatorEnrollment.__table__,
            ["reward_id", "operator_player_id"],
        ).values(row)
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        # Another first enrollment of the player committed in between: answer it.
        concurrent = await _find(session, reward.id, player_id)
        assert concurrent is not None
        return concurrent
    enrollment = OperatorEnrollment(**row)
    await fanout.write_events(
        session,
        [
            _enrolled_event(
                client_id,
                enrollment.id,
                enrollment_json(enrollment, view, now),
                now,
                iso(now) or "",
            )
        ],
    )
    return enrollment


async def get(
    session: AsyncSession, *, client_id: str, enrollment_id: str, lock: bool = False
) -> OperatorEnrollment:
    """The operator's enrollment; another operator's is not found. ``lock``: hold its row until
    the transaction ends."""
    enrollment = await session.get(OperatorEnrollment, enrollment_id, with_for_update=lock)
    if enrollment is None or enrollment.client_id != client_id:
        raise NotFound(f"Enrollment {enrollment_id} was not found")
    return enrollment


async def views_of(
    session: AsyncSession, enrollments: list[OperatorEnrollment], operator_id: int | None
) -> dict[str, RewardView]:
    """The reward views of these enrollments, by reward id, in one query."""
    reward_ids = {e.reward_id for e in enrollments}
    if not reward_ids:
        return {}
    rows = await session.execute(
        select(OperatorReward, Campaign.operator_reference)
        .join(Campaign, Campaign.id == OperatorReward.campaign_id)
        .where(OperatorReward.id.in_(reward_ids))
    )
    return {reward.id: RewardView(reward, reference, operator_id) for reward, reference in rows}


def _listing(client_id: str, status: str | None, now: datetime) -> Select[OperatorEnrollment]:
    stmt = select(OperatorEnrollment).where(OperatorEnrollment.client_id == client_id)
    if status is None:
        return stmt
    if status == EXPIRED:
        return stmt.where(OperatorEnrollment.status.in_(OPEN), OperatorEnrollment.end_at <= now)
    stmt = stmt.where(OperatorEnrollment.status == status)
    if status in OPEN:
        stmt = stmt.where(OperatorEnrollment.end_at > now)
    return stmt


async def list_for(
    session: AsyncSession,
    *,
    client_id: str,
    now: datetime,
    reward_id: str | None = None,
    player_id: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[OperatorEnrollment]:
    """The operator's enrollments, oldest first: of a reward, of a player, or both."""
    if reward_id is not None:
        await rewards.get(session, client_id=client_id, reward_id=reward_id)
    stmt = _listing(client_id, status, now)
    if reward_id is not None:
        stmt = stmt.where(OperatorEnrollment.reward_id == reward_id)
    if player_id is not None:
        stmt = stmt.where(OperatorEnrollment.operator_player_id == player_id)
    rows = await session.scalars(
        stmt.order_by(OperatorEnrollment.created_at, OperatorEnrollment.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows)


async def cancel(
    session: AsyncSession,
    *,
    client_id: str,
    enrollment_id: str,
    cancelled_by: str,
    clock: Callable[[], datetime] = utcnow,
) -> OperatorEnrollment:
    """Cancel a New or Active enrollment: the player loses the bets left. The time is read from
    ``clock`` once the enrollment's row is locked, so that bets and a cancel are stamped in the
    order they took it."""
    enrollment = await get(session, client_id=client_id, enrollment_id=enrollment_id, lock=True)
    now = clock()
    current = enrollment_status(enrollment, now)
    if current not in OPEN:
        raise Conflict(
            f"Enrollment {enrollment_id} is {current}: only a New or Active enrollment "
            "can be cancelled"
        )
    enrollment.status = CANCELLED
    enrollment.cancelled_at = now
    enrollment.cancelled_by = cancelled_by
    enrollment.updated_at = now
    await session.flush()
    return enrollment


async def place_bet(
    session: AsyncSession,
    *,
    client_id: str,
    enrollment_id: str,
    bet_id: str,
    product: str,
    operator_id: int | None,
    clock: Callable[[], datetime] = utcnow,
) -> Bet:
    """Use one free bet of an enrollment, once per ``bet_id``. The enrollment row is locked, so
    concurrent bets are counted one after the other and a repeat waits for the first and then
    answers it. The time is read from ``clock`` once the row is locked: bets (and a cancel) are
    stamped in the order they took the lock."""
    enrollment = await get(session, client_id=client_id, enrollment_id=enrollment_id, lock=True)
    now = clock()
    earlier = await session.scalar(
        select(OperatorFreeBet).where(
            OperatorFreeBet.enrollment_id == enrollment_id, OperatorFreeBet.bet_id == bet_id
        )
    )
    if earlier is not None:
        if earlier.product != product:
            raise Conflict(
                f"betId {bet_id} was already used on product {earlier.product}, not {product}"
            )
        return Bet(earlier, enrollment)
    current = enrollment_status(enrollment, now)
    if current not in OPEN:
        raise Conflict(f"Enrollment {enrollment_id} is {current}: it has no free bets to use")
    if now < enrollment.start_at:
        raise Conflict(
            f"Enrollment {enrollment_id} is not open yet: its free bets can be used from "
            f"{iso(enrollment.start_at)}"
        )
    reward = await session.get(OperatorReward, enrollment.reward_id)
    assert reward is not None
    if product not in reward.products:
        raise Invalid(PRODUCT.format(product=product), field="product")
    enrollment.remaining_bet_count -= 1
    enrollment.updated_at = now
    if enrollment.remaining_bet_count == 0:
        enrollment.status = COMPLETED
        enrollment.completed_at = now
    else:
        enrollment.status = ACTIVE
    bet = OperatorFreeBet(
        enrollment_id=enrollment.id,
        bet_id=bet_id,
        product=product,
        bet_value_minor=enrollment.bet_value_minor,
        remaining_bet_count=enrollment.remaining_bet_count,
        status_after=enrollment.status,
        placed_at=now,
    )
    session.add(bet)
    if enrollment.status == COMPLETED:
        reference = await session.scalar(
            select(Campaign.operator_reference).where(Campaign.id == reward.campaign_id)
        )
        view = RewardView(reward, reference, operator_id)
        await fanout.write_events(
            session,
            [
                event_row(
                    FREEBETS_COMPLETED,
                    subject_type="enrollment",
                    subject_id=enrollment.id,
                    client_id=client_id,
                    now=now,
                    data=enrollment_json(enrollment, view, now),
                )
            ],
        )
    await session.flush()
    return Bet(bet, enrollment)


async def bets_of(
    session: AsyncSession, *, client_id: str, enrollment_id: str
) -> tuple[OperatorEnrollment, list[OperatorFreeBet]]:
    """The operator's enrollment and the bets used from it, oldest first: in the order they
    took the enrollment's lock, which each bet's ``remaining_bet_count`` (one fewer each time)
    records."""
    enrollment = await get(session, client_id=client_id, enrollment_id=enrollment_id)
    rows = await session.scalars(
        select(OperatorFreeBet)
        .where(OperatorFreeBet.enrollment_id == enrollment_id)
        .order_by(OperatorFreeBet.remaining_bet_count.desc(), OperatorFreeBet.placed_at)
    )
    return enrollment, list(rows)


# --- Bulk enrollment ---------------------------------------------------------------------------


async def create_batch(
    session: AsyncSession,
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
    _check_enrollable(reward, now)
    bets = bets_for(reward, bet_value_minor, bet_count)
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
        raise NotFound(f"Bulk enrollment {batch_id} was not found")
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
            start = batch.processed_count
            if start < batch.total_count:
                view = await reward_view(
                    session,
                    client_id=batch.client_id,
                    reward_id=batch.reward_id,
                    operator_id=operator_id,
                    lock=True,
                )
                chunk = players[start : start + chunk_size]
                try:
                    _check_enrollable(view.reward, now)
                except Conflict as refused:
                    batch.failed_count += batch.total_count - start
                    batch.processed_count = batch.total_count
                    batch.error = str(refused)
                else:
                    tally = await _isolated_chunk(session, batch, view, start, chunk, now)
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


async def _isolated_chunk(
    session: AsyncSession,
    batch: OperatorEnrollmentBatch,
    view: RewardView,
    start: int,
    chunk: list[str],
    now: datetime,
) -> Counter[str]:
    """Enrol one chunk in the chunk's transaction; a player whose row the database refuses fails
    alone (counted in ``failed_count``, the first such reason in ``error`` with the player's
    index) and the rest of the chunk is enrolled (``bestow.kit.isolation``)."""

    async def attempt(first: int, players: Sequence[str]) -> Counter[str]:
        enrolled = await _enrol_chunk(session, batch, view, list(players), now)
        return Counter(enrolled=enrolled, existing=len(players) - enrolled)

    async def fail(index: int, _player: str, reason: str) -> Counter[str]:
        if batch.error is None:
            batch.error = f"operatorPlayerIds[{index}]: {reason}"[:500]
        return Counter(failed=1)

    return await isolation.isolated(session, start, chunk, attempt, fail)


async def _enrol_chunk(
    session: AsyncSession,
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
        _row(batch.client_id, view.reward, player, bets, now, batch.id)
        for player in wanted
        if player not in existing
    ]
    if not rows:
        return 0
    await bulk_insert(session, OperatorEnrollment.__table__, rows)
    # The chunk's enrollments differ only in id and player: one answer serves as the template
    # of every event (building each from an ORM object cost ~40% of the worker's time).
    template = enrollment_json(OperatorEnrollment(**rows[0]), view, now)
    stamp = iso(now) or ""
    await fanout.write_events(
        session,
        [
            _enrolled_event(
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
