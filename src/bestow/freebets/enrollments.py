"""Operator API enrollments: players enrolled in a ``FreeBets`` reward.

One enrollment per (reward, player): enrolling a player again answers the enrollment they have.
What a player receives (``bets_for``) is the reward's for a Fixed reward and chosen within its
ranges for a Ranged one. Statuses: ``lifecycle``; using bets: ``bets``; many players at once:
``bulks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.freebets import events, rewards
from bestow.freebets.errors import EnrollmentNotFound, NotCancellable, NotEnrollable
from bestow.freebets.events import RewardView
from bestow.freebets.lifecycle import (
    CANCELLABLE,
    CANCELLED,
    EXPIRED,
    NEW,
    OPEN,
    enrollment_status,
    reward_status,
)
from bestow.kit.db import WriteSession, dialect_of, insert_ignore, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.ids import new_id
from bestow.kit.timefmt import iso
from bestow.models import Campaign, OperatorEnrollment, OperatorReward
from bestow.webhooks import fanout

BET_VALUE_FIXED = "betValue must be {value} for this Fixed reward (or omitted)"
BET_COUNT_FIXED = "betCount must be {count} for this Fixed reward (or omitted)"
BET_VALUE_RANGE = "betValue is required for a Ranged reward and must be from {low} to {high}"
BET_COUNT_RANGE = "betCount is required for a Ranged reward and must be from {low} to {high}"


@dataclass(frozen=True)
class Bets:
    """What each player of an enrollment receives: the value of one bet (hundredths) and how
    many bets."""

    value_minor: int
    count: int


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


def check_enrollable(reward: OperatorReward, now: datetime) -> None:
    """``NotEnrollable`` unless the reward is Scheduled or Active."""
    current = reward_status(reward, now)
    if current not in CANCELLABLE:
        raise NotEnrollable(
            f"Reward {reward.id} is {current.value}: players can be enrolled only in a "
            "Scheduled or Active reward"
        )


def new_row(
    client_id: str,
    reward: OperatorReward,
    player_id: str,
    bets: Bets,
    now: datetime,
    batch_id: str | None,
) -> dict[str, Any]:
    """A new enrollment as a row (for ``insert_ignore`` and bulk inserts)."""
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
    session: WriteSession,
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
    check_enrollable(reward, now)
    bets = bets_for(reward, bet_value_minor, bet_count)
    row = new_row(client_id, reward, player_id, bets, now, None)
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
    payload = events.enrollment_payload(enrollment, view, now)
    await fanout.write_events(
        session, [events.enrolled(client_id, enrollment.id, payload, now, iso(now) or "")]
    )
    return enrollment


async def get(
    session: AsyncSession, *, client_id: str, enrollment_id: str, lock: bool = False
) -> OperatorEnrollment:
    """The operator's enrollment; another operator's is not found. ``lock``: hold its row until
    the transaction ends."""
    enrollment = await session.get(OperatorEnrollment, enrollment_id, with_for_update=lock)
    if enrollment is None or enrollment.client_id != client_id:
        raise EnrollmentNotFound(f"Enrollment {enrollment_id} was not found")
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
    session: WriteSession,
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
        raise NotCancellable(
            f"Enrollment {enrollment_id} is {current}: only a New or Active enrollment "
            "can be cancelled"
        )
    enrollment.status = CANCELLED
    enrollment.cancelled_at = now
    enrollment.cancelled_by = cancelled_by
    enrollment.updated_at = now
    await session.flush()
    return enrollment
