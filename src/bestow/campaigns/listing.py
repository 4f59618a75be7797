"""Campaigns of every surface for the operators of a deployment (the Admin API and the CLI): the
shared ``Campaign`` rows, whichever surface created them, filtered in SQL and paged newest
first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import Status, active_clause
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import Campaign

# The surface that created a campaign is its ``source``.
SURFACES = ("partner", "operator")
STATUSES = tuple(s.value.lower() for s in Status)


@dataclass(frozen=True)
class Filters:
    client_id: str | None = None
    merchant_id: str | None = None
    status: str | None = None
    surface: str | None = None


def status_clause(status: Status, now: datetime) -> ColumnElement[bool]:
    """The campaigns ``service.status`` would find in ``status`` at ``now``."""
    open_ = Campaign.cancelled_at.is_(None)
    match status:
        case Status.CANCELLED:
            return Campaign.cancelled_at.is_not(None)
        case Status.SCHEDULED:
            return and_(open_, Campaign.start_at > now)
        case Status.ENDED:
            return and_(
                open_,
                Campaign.start_at <= now,
                Campaign.end_at.is_not(None),
                Campaign.end_at <= now,
            )
        case Status.ACTIVE:
            return active_clause(now)  # type: ignore[return-value]


def one_of(value: str | None, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise Invalid(f"{field} is one of {', '.join(allowed)}", field=field)


def query(filters: Filters, now: datetime | None = None) -> Select[Campaign]:
    one_of(filters.surface, SURFACES, "surface")
    one_of(filters.status, STATUSES, "status")
    stmt = select(Campaign)
    if filters.client_id is not None:
        stmt = stmt.where(Campaign.client_id == filters.client_id)
    if filters.merchant_id is not None:
        stmt = stmt.where(Campaign.merchant_id == filters.merchant_id)
    if filters.surface is not None:
        stmt = stmt.where(Campaign.source == filters.surface)
    if filters.status is not None:
        stmt = stmt.where(status_clause(Status(filters.status.capitalize()), now or utcnow()))
    return stmt


async def page(
    session: AsyncSession, filters: Filters, *, cursor: str | None, limit: int
) -> CursorPage[Campaign]:
    """A page of campaigns, newest first (ids are time-ordered); the cursor is the last id."""
    stmt = query(filters)
    return await cursor_paginate(
        session, stmt, Campaign.id, cursor=cursor, limit=limit, newest_first=True
    )
