"""Bulk enrollments of every operator for the operators of a deployment (the Admin API and the
CLI): filtered in SQL by status, creation window, failures and reward, paged newest first.

The Admin API names the statuses in lower case, as its other lists do (``pending``,
``processing``, ``completed``, ``failed``); the Operator API's are capitalised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bestow.freebets.bulks import COMPLETED, FAILED, PENDING, PROCESSING
from bestow.kit.errors import Invalid
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import OperatorEnrollmentBatch

STATUSES = tuple(s.lower() for s in (PENDING, PROCESSING, COMPLETED, FAILED))


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    since: datetime | None = None
    """Created at or after (aware, UTC)."""
    until: datetime | None = None
    """Created before (aware, UTC)."""
    with_failures: bool | None = None
    """True: at least one player failed; false: none did."""
    client_id: str | None = None
    reward_id: str | None = None


def query(filters: Filters) -> Select[OperatorEnrollmentBatch]:
    Batch = OperatorEnrollmentBatch
    if filters.status is not None and filters.status not in STATUSES:
        raise Invalid(f"status is one of {', '.join(STATUSES)}", field="status")
    stmt = select(Batch)
    if filters.status is not None:
        stmt = stmt.where(Batch.status == filters.status.capitalize())
    if filters.since is not None:
        stmt = stmt.where(Batch.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Batch.created_at < filters.until)
    if filters.with_failures is not None:
        failed = Batch.failed_count > 0
        stmt = stmt.where(failed if filters.with_failures else ~failed)
    if filters.client_id is not None:
        stmt = stmt.where(Batch.client_id == filters.client_id)
    if filters.reward_id is not None:
        stmt = stmt.where(Batch.reward_id == filters.reward_id)
    return stmt


async def page(
    session: AsyncSession, filters: Filters, *, cursor: str | None, limit: int
) -> CursorPage[OperatorEnrollmentBatch]:
    """A page of bulk enrollments, newest first (ids are time-ordered); the cursor is the last
    id. The player ids a bulk was given are not loaded: a list has no use for 10,000 of them."""
    Batch = OperatorEnrollmentBatch
    stmt = query(filters).options(defer(Batch.player_ids))
    return await cursor_paginate(
        session, stmt, Batch.id, cursor=cursor, limit=limit, newest_first=True
    )
