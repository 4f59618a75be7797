"""Operator API campaigns (Gamnify-compatible): the core ``Campaign`` with ``source="operator"``.

Every column the Operator API needs already exists on the core model (``description`` is kept in
``objective``, the Partner API's description of a campaign); operator campaigns have no merchant
and no redemption window. Tenancy is the client: an operator sees only the campaigns it created.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import Status, status
from bestow.kit.db import utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.models import Campaign, OperatorReward

SOURCE = "operator"
CANCELLABLE = (Status.SCHEDULED, Status.ACTIVE)
END_AFTER_START = "endTimeUtc must be strictly after startTimeUtc"


async def create(
    session: AsyncSession,
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
        raise NotFound(f"Campaign {campaign_id} was not found")
    return campaign


async def cancel(
    session: AsyncSession, *, client_id: str, campaign_id: str, cancelled_by: str
) -> Campaign:
    """Cancel a Scheduled or Active campaign and its Scheduled or Active rewards; an Ended or
    Cancelled campaign is a conflict."""
    campaign = await get(session, client_id=client_id, campaign_id=campaign_id)
    current = status(campaign)
    if current not in CANCELLABLE:
        raise Conflict(
            f"Campaign {campaign_id} is {current.value}: only a Scheduled or Active campaign "
            "can be cancelled"
        )
    now = utcnow()
    campaign.cancelled_at = now
    campaign.cancelled_by = cancelled_by
    # Its Scheduled and Active rewards (not cancelled, not ended) are cancelled with it.
    await session.execute(
        update(OperatorReward)
        .where(
            OperatorReward.campaign_id == campaign.id,
            OperatorReward.cancelled_at.is_(None),
            OperatorReward.end_at > now,
        )
        .values(cancelled_at=now, cancelled_by=cancelled_by, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return campaign
