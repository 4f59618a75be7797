"""Issuance jobs of every client for the operators of a deployment (the Admin API and the CLI):
filtered in SQL by state, creation window, failures and what they reward, paged newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bestow.kit.errors import Invalid
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import IssuanceJob

STATES = ("pending", "processing", "completed", "failed", "revoking", "revoked")


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    since: datetime | None = None
    """Created at or after (aware, UTC)."""
    until: datetime | None = None
    """Created before (aware, UTC)."""
    with_failures: bool | None = None
    """True: at least one identifier failed; false: none did."""
    client_id: str | None = None
    merchant_id: str | None = None
    campaign_id: str | None = None


def query(filters: Filters) -> Select[IssuanceJob]:
    if filters.state is not None and filters.state not in STATES:
        raise Invalid(f"state is one of {', '.join(STATES)}", field="state")
    stmt = select(IssuanceJob)
    if filters.state is not None:
        stmt = stmt.where(IssuanceJob.state == filters.state)
    if filters.since is not None:
        stmt = stmt.where(IssuanceJob.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(IssuanceJob.created_at < filters.until)
    if filters.with_failures is not None:
        failed = IssuanceJob.failure_count > 0
        stmt = stmt.where(failed if filters.with_failures else ~failed)
    if filters.client_id is not None:
        stmt = stmt.where(IssuanceJob.client_id == filters.client_id)
    if filters.merchant_id is not None:
        stmt = stmt.where(IssuanceJob.merchant_id == filters.merchant_id)
    if filters.campaign_id is not None:
        stmt = stmt.where(IssuanceJob.campaign_id == filters.campaign_id)
    return stmt


async def page(
    session: AsyncSession, filters: Filters, *, cursor: str | None, limit: int
) -> CursorPage[IssuanceJob]:
    """A page of jobs, newest first (ids are time-ordered); the cursor is the last id. The
    identifiers a job was given are not loaded: a list has no use for 10,000 of them."""
    stmt = query(filters).options(defer(IssuanceJob.identifiers))
    return await cursor_paginate(
        session, stmt, IssuanceJob.id, cursor=cursor, limit=limit, newest_first=True
    )
