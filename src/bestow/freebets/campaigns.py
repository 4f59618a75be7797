"""Operator API campaigns: the shared ``Campaign`` (``bestow.campaigns``) with
``source="operator"``.

Every column the Operator API needs already exists on the core model (``description`` is kept in
``objective``, the Partner API's description of a campaign); operator campaigns have no merchant
and no redemption window. Tenancy is the client: an operator sees only the campaigns it created.
Cancelling one cancels its Scheduled and Active rewards and their open enrollments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import status
from bestow.freebets import events
from bestow.freebets.errors import CampaignNotFound, NotCancellable
from bestow.freebets.lifecycle import CANCELLABLE, cancel_open_enrollments
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid
from bestow.models import Campaign, OperatorEnrollment, OperatorReward
from bestow.webhooks import fanout

SOURCE = "operator"
END_AFTER_START = "endTimeUtc must be strictly after startTimeUtc"


@dataclass(frozen=True)
class Cancelled:
    """A cancelled campaign and how many rewards and enrollments were cancelled with it."""

    campaign: Campaign
    reward_count: int
    enrollment_count: int


async def create(
    session: WriteSession,
    *,
    client_id: str,
    name: str,
    description: str | None,
    operator_reference: str | None,
    terms_url: str | None,
    start_at: datetime,
    end_at: datetime | None,
    created_by: str,
) -> Campaign:
    if end_at is not None and end_at <= start_at:
        raise Invalid(END_AFTER_START, field="endTimeUtc")
    campaign = Campaign(
        client_id=client_id,
        merchant_id=None,
        source=SOURCE,
        name=name,
        objective=description or "",
        fine_print="",
        terms_url=terms_url,
        operator_reference=operator_reference,
        start_at=start_at,
        end_at=end_at,
        created_by=created_by,
        updated_by="",
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def list_for(session: AsyncSession, *, client_id: str) -> list[Campaign]:
    rows = await session.scalars(
        select(Campaign)
        .where(Campaign.client_id == client_id, Campaign.source == SOURCE)
        .order_by(Campaign.created_at, Campaign.id)
    )
    return list(rows)


async def get(session: AsyncSession, *, client_id: str, campaign_id: str) -> Campaign:
    """The operator's campaign; another operator's (or another surface's) is not found."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.client_id != client_id or campaign.source != SOURCE:
        raise CampaignNotFound(f"Campaign {campaign_id} was not found")
    return campaign


async def cancel(
    session: WriteSession,
    *,
    client_id: str,
    campaign_id: str,
    cancelled_by: str,
    now: datetime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Cancelled:
    """Cancel a Scheduled or Active campaign, its Scheduled and Active rewards and their open
    enrollments, and record ``campaign.cancelled``; an Ended or Cancelled campaign is a
    conflict."""
    now = now or utcnow()
    campaign = await get(session, client_id=client_id, campaign_id=campaign_id)
    current = status(campaign, now)
    if current not in CANCELLABLE:
        raise NotCancellable(
            f"Campaign {campaign_id} is {current.value}: only a Scheduled or Active campaign "
            "can be cancelled"
        )
    campaign.cancelled_at = now
    campaign.cancelled_by = cancelled_by
    # Its Scheduled and Active rewards (not cancelled, not ended) are cancelled with it.
    rewards = await session.execute(
        update(OperatorReward)
        .where(
            OperatorReward.campaign_id == campaign.id,
            OperatorReward.cancelled_at.is_(None),
            OperatorReward.end_at > now,
        )
        .values(cancelled_at=now, cancelled_by=cancelled_by, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    enrollments = await cancel_open_enrollments(
        session,
        OperatorEnrollment.campaign_id == campaign.id,
        now=now,
        cancelled_by=cancelled_by,
        clock=clock,
    )
    result = Cancelled(campaign, rewards.rowcount, enrollments)  # type: ignore[attr-defined]
    event = events.campaign_cancelled(
        campaign,
        cancelled_by=cancelled_by,
        reward_count=result.reward_count,
        enrollment_count=result.enrollment_count,
        now=now,
    )
    await fanout.write_events(session, [event])
    await session.flush()
    return result
