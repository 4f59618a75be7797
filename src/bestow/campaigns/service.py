"""Campaigns: the core container of rewards, shared by the Partner and Operator APIs: a
campaign's status and the clause that selects active ones. The rules of partner campaigns belong
to the partner rewards domain (``bestow.issuance.campaigns``); the operator's rewards keep theirs
beside them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, or_

from bestow.kit.db import utcnow
from bestow.models import Campaign


class Status(StrEnum):
    SCHEDULED = "Scheduled"
    ACTIVE = "Active"
    ENDED = "Ended"
    CANCELLED = "Cancelled"


def status(campaign: Campaign, now: datetime | None = None) -> Status:
    now = now or utcnow()
    if campaign.cancelled_at is not None:
        return Status.CANCELLED
    if now < campaign.start_at:
        return Status.SCHEDULED
    if campaign.end_at is not None and now >= campaign.end_at:
        return Status.ENDED
    return Status.ACTIVE


def active_clause(now: datetime) -> object:
    return and_(
        Campaign.cancelled_at.is_(None),
        Campaign.start_at <= now,
        or_(Campaign.end_at.is_(None), Campaign.end_at > now),
    )
