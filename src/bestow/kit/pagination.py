"""Pagination helpers: page/per_page (vendor surfaces) and opaque cursors (Admin API)."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.errors import Invalid

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1


async def paginate(session: AsyncSession, stmt: Select[T], *, page: int, per_page: int) -> Page[T]:
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = await session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    return Page(items=list(rows), page=page, per_page=per_page, total=int(total or 0))


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


_ID = re.compile(r"^[a-z]{2,4}_[0-9a-z]{26}$")


def decode_cursor(cursor: str) -> str:
    try:
        last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("cursor is not one this API returned", field="cursor") from exc
    if not _ID.match(last_id):
        raise Invalid("cursor is not one this API returned", field="cursor")
    return last_id


@dataclass(frozen=True)
class CursorPage(Generic[T]):
    items: list[T]
    next_cursor: str | None


async def cursor_paginate(
    session: AsyncSession,
    stmt: Select[T],
    id_column: Any,
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
) -> CursorPage[T]:
    """Items ordered by a time-ordered id, oldest first (or ``newest_first``); the cursor is the
    last id of the previous page. One row more than the page is read to know whether another
    follows."""
    if cursor:
        after = decode_cursor(cursor)
        stmt = stmt.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column
    rows = list(await session.scalars(stmt.order_by(order).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = getattr(rows[-1], "id", None) if rows else None
    return CursorPage(items=rows, next_cursor=encode_cursor(last) if has_more and last else None)
