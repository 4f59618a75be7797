"""Operator API rewards: the ``FreeBets`` rewards of an operator campaign.

A reward inherits its operator from its campaign: another operator's reward is not found. Its
window lies within the campaign's; its status is derived from time as a campaign's, except
``Cancelled`` (``lifecycle.reward_status``). Cancelling the campaign cancels its Scheduled and
Active rewards (``campaigns.cancel``). Bet values are integer hundredths, never floats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import status
from bestow.freebets import campaigns
from bestow.freebets.errors import NotCancellable, NotEnrollable, RewardNotFound
from bestow.freebets.lifecycle import CANCELLABLE, cancel_open_enrollments, reward_status
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.timefmt import iso
from bestow.models import Campaign, OperatorEnrollment, OperatorReward

FREE_BETS = "FreeBets"
FIXED = "Fixed"
RANGED = "Ranged"
END_AFTER_START = "endTimeUtc must be strictly after startTimeUtc"
BEFORE_CAMPAIGN = "startTimeUtc must not be before the campaign's startTimeUtc ({start})"
AFTER_CAMPAIGN = "endTimeUtc must not be after the campaign's endTimeUtc ({end})"


@dataclass(frozen=True)
class FreeBets:
    """The free bets of a reward; values in hundredths of the currency unit."""

    details_type: str
    currency: str
    min_bet_value_minor: int
    max_bet_value_minor: int
    min_bet_count: int
    max_bet_count: int
    credit_wallet_type: str
    stake_not_returned: bool


async def create(
    session: WriteSession,
    *,
    client_id: str,
    campaign_id: str,
    name: str,
    description: str | None,
    operator_reference: str | None,
    products: list[str],
    start_at: datetime,
    end_at: datetime,
    created_by: str,
    details: FreeBets,
    now: datetime | None = None,
) -> OperatorReward:
    """A reward in one of the operator's Scheduled or Active campaigns, within its window."""
    if end_at <= start_at:
        raise Invalid(END_AFTER_START, field="endTimeUtc")
    campaign = await campaigns.get(session, client_id=client_id, campaign_id=campaign_id)
    current = status(campaign, now)
    if current not in CANCELLABLE:
        raise NotEnrollable(
            f"Campaign {campaign_id} is {current.value}: rewards can be added only to a "
            "Scheduled or Active campaign"
        )
    if start_at < campaign.start_at:
        raise Invalid(BEFORE_CAMPAIGN.format(start=iso(campaign.start_at)), field="startTimeUtc")
    if campaign.end_at is not None and end_at > campaign.end_at:
        raise Invalid(AFTER_CAMPAIGN.format(end=iso(campaign.end_at)), field="endTimeUtc")
    reward = OperatorReward(
        campaign_id=campaign.id,
        reward_type=FREE_BETS,
        name=name,
        description=description,
        operator_reference=operator_reference,
        products=products,
        start_at=start_at,
        end_at=end_at,
        created_by=created_by,
        details_type=details.details_type,
        currency=details.currency,
        min_bet_value_minor=details.min_bet_value_minor,
        max_bet_value_minor=details.max_bet_value_minor,
        min_bet_count=details.min_bet_count,
        max_bet_count=details.max_bet_count,
        credit_wallet_type=details.credit_wallet_type,
        stake_not_returned=details.stake_not_returned,
    )
    session.add(reward)
    await session.flush()
    return reward


async def list_for(
    session: AsyncSession, *, client_id: str, campaign_id: str
) -> list[OperatorReward]:
    """The rewards of one of the operator's campaigns, oldest first."""
    await campaigns.get(session, client_id=client_id, campaign_id=campaign_id)
    rows = await session.scalars(
        select(OperatorReward)
        .where(OperatorReward.campaign_id == campaign_id)
        .order_by(OperatorReward.created_at, OperatorReward.id)
    )
    return list(rows)


async def get(
    session: AsyncSession, *, client_id: str, reward_id: str, lock: bool = False
) -> OperatorReward:
    """The operator's reward; another operator's is not found."""
    reward, _ = await get_with_campaign_reference(
        session, client_id=client_id, reward_id=reward_id, lock=lock
    )
    return reward


async def get_with_campaign_reference(
    session: AsyncSession, *, client_id: str, reward_id: str, lock: bool = False
) -> tuple[OperatorReward, str | None]:
    """The operator's reward and its campaign's ``operatorReference``. ``lock``: hold the reward
    row in share mode until the transaction ends (PostgreSQL), so it cannot be cancelled while
    players are being enrolled in it; SQLite serialises writers instead."""
    stmt = (
        select(OperatorReward, Campaign.client_id, Campaign.source, Campaign.operator_reference)
        .join(Campaign, Campaign.id == OperatorReward.campaign_id)
        .where(OperatorReward.id == reward_id)
    )
    if lock:
        stmt = stmt.with_for_update(read=True, of=OperatorReward)
    row = (await session.execute(stmt)).first()
    if row is None or row[1] != client_id or row[2] != campaigns.SOURCE:
        raise RewardNotFound(f"Reward {reward_id} was not found")
    reward: OperatorReward = row[0]
    return reward, row[3]


async def cancel(
    session: WriteSession,
    *,
    client_id: str,
    reward_id: str,
    cancelled_by: str,
    now: datetime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> OperatorReward:
    """Cancel a Scheduled or Active reward and its players' open enrollments; an Ended or
    Cancelled reward is a conflict."""
    now = now or utcnow()
    reward = await get(session, client_id=client_id, reward_id=reward_id)
    current = reward_status(reward, now)
    if current not in CANCELLABLE:
        raise NotCancellable(
            f"Reward {reward_id} is {current.value}: only a Scheduled or Active reward "
            "can be cancelled"
        )
    reward.cancelled_at = now
    reward.cancelled_by = cancelled_by
    reward.updated_at = now
    await cancel_open_enrollments(
        session,
        OperatorEnrollment.reward_id == reward.id,
        now=now,
        cancelled_by=cancelled_by,
        clock=clock,
    )
    await session.flush()
    return reward
