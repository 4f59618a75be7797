"""Issued rewards as operators list them (Admin API, CLI): every reward of every surface, by member,
campaign, job, state, client and merchant, newest first.

A reward's id is time-ordered (``bestow.kit.ids``), so the newest first is the id descending, and
the cursor is the last id of the previous page (``kit.pagination``'s cursors): pages never overlap,
however many rewards are issued while they are read (those come before the first page).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import IssuedReward

STATES = ("active", "revoked")
"""``IssuedReward.state``: ``active`` when issued, ``revoked`` once its job is revoked."""


@dataclass(frozen=True)
class RewardFilters:
    member_id: str | None = None
    campaign_id: str | None = None
    job_id: str | None = None
    state: str | None = None
    client_id: str | None = None
    merchant_id: str | None = None


def query(filters: RewardFilters) -> Select[IssuedReward]:
    """The rewards ``filters`` select (each one given narrows the list)."""
    stmt = select(IssuedReward)
    for name in ("member_id", "campaign_id", "job_id", "state", "client_id", "merchant_id"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(IssuedReward, name) == value)
    return stmt


async def list_rewards(
    session: AsyncSession, filters: RewardFilters, *, cursor: str | None, limit: int
) -> CursorPage[IssuedReward]:
    """One page of the rewards ``filters`` select, newest first; one row more than the page is
    read to know whether another follows."""
    stmt = query(filters)
    return await cursor_paginate(
        session, stmt, IssuedReward.id, cursor=cursor, limit=limit, newest_first=True
    )
