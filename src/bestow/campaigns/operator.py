"""Operator API campaigns (Gamnify-compatible): the core ``Campaign`` with ``source="operator"``.

Every column the Operator API needs already exists on the core model (``description`` is kept in
``objective``, the Partner API's description of a campaign); operator campaigns have no merchant
and no redemption window. Tenancy is the client: an operator sees only the campaigns it created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import Status, status
from bestow.kit.db import utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.outbox import event_row, event_type
from bestow.kit.timefmt import iso
from bestow.models import Campaign, OperatorEnrollment, OperatorReward
from bestow.webhooks import fanout

SOURCE = "operator"
OPEN_ENROLLMENT = ("New", "Active")
"""Enrollment statuses with free bets still to use (``bestow.campaigns.operator_enrollments``)."""

CAMPAIGN_CANCELLED = event_type(
    "campaign.cancelled",
    "An Operator API campaign was cancelled, with its rewards and open enrollments",
    surface="operator",
)


@dataclass(frozen=True)
class Cancelled:
    """A cancelled campaign and how many rewards and enrollments were cancelled with it."""

    campaign: Campaign
    reward_count: int
    enrollment_count: int


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
    session: AsyncSession,
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
        raise Conflict(
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
    enrollments = await cancel_enrollments(
        session,
        OperatorEnrollment.campaign_id == campaign.id,
        now=now,
        cancelled_by=cancelled_by,
        clock=clock,
    )
    result = Cancelled(campaign, rewards.rowcount, enrollments)  # type: ignore[attr-defined]
    event = event_row(
        CAMPAIGN_CANCELLED,
        subject_type="campaign",
        subject_id=campaign.id,
        client_id=client_id,
        now=now,
        data={
            "campaignId": campaign.id,
            "operatorReference": campaign.operator_reference,
            "cancelledAtUtc": iso(now),
            "cancelledBy": cancelled_by,
            "cancelledRewardCount": result.reward_count,
            "cancelledEnrollmentCount": result.enrollment_count,
        },
    )
    await fanout.write_events(session, [event])
    await session.flush()
    return result


async def cancel_enrollments(
    session: AsyncSession,
    which: ColumnElement[bool],
    *,
    now: datetime,
    cancelled_by: str,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Cancel the open enrollments (``New`` or ``Active``, not yet expired) that ``which``
    selects; the players lose their unused free bets. Returns how many. Their rows are locked
    first (in id order) and only then stamped from ``clock`` (never before ``now``), so that a
    bet that took an enrollment's lock first is stamped before its cancellation."""
    is_open = (
        which,
        OperatorEnrollment.status.in_(OPEN_ENROLLMENT),
        OperatorEnrollment.end_at > now,
    )
    await session.execute(
        select(OperatorEnrollment.id)
        .where(*is_open)
        .order_by(OperatorEnrollment.id)
        .with_for_update()
    )
    stamp = max(now, clock())
    result = await session.execute(
        update(OperatorEnrollment)
        .where(*is_open)
        .values(status="Cancelled", cancelled_at=stamp, cancelled_by=cancelled_by, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
