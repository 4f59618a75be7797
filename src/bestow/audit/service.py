"""The audit trail of admin actions: written in the transaction of the action itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.actor import Actor
from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        id=new_id("aud"),
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes=changes or {},
        request_id=actor.request_id,
        created_at=utcnow(),
    )
    session.add(entry)
    return entry


def query(*, target_type: str | None = None, target_id: str | None = None) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    return stmt


async def list_entries(
    session: AsyncSession,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[AuditEntry]:
    """The trail oldest first, a page at a time."""
    stmt = query(target_type=target_type, target_id=target_id)
    return await cursor_paginate(session, stmt, AuditEntry.id, cursor=cursor, limit=limit)


async def latest_entries(
    session: AsyncSession,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: int,
) -> list[AuditEntry]:
    """The ``limit`` latest entries, the oldest of them first."""
    stmt = query(target_type=target_type, target_id=target_id)
    latest = await session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit))
    return list(reversed(latest.all()))
