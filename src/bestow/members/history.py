"""A member's whole history for operators (Admin API, CLI): their issued rewards, their vouchers
and their loyalty points transactions in one list, newest first, a page at a time.

Each source gives ``(type, id, time)``: a reward's ``created_at``, a voucher's ``issued_at``, a
points transaction's ``created_at``. One ``UNION ALL`` orders them by time then id, both
descending, and the page's rows are then read by id from their tables. The cursor carries the
last entry's time and id, and the next page starts strictly after them in that order, so pages
never overlap and entries made since the first page do not shift the later ones.

Free-bet enrollments (``OperatorEnrollment``) are not a member's: they name an operator's
player (``operator_player_id``, the operator's own id), which no member record maps to, so they
are left out of a member's history.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.errors import Invalid
from bestow.members.service import get_member
from bestow.models import IssuedReward, PointsTransaction, Voucher

TYPES = ("reward", "voucher", "points")
BAD_CURSOR = "cursor is not one this API returned"
_ID = re.compile(r"^[0-9a-z_-]{1,40}$")


@dataclass(frozen=True)
class Entry:
    """One entry of the history: ``item`` is an ``IssuedReward`` (``reward``), a ``Voucher``
    (``voucher``) or a ``PointsTransaction`` (``points``)."""

    type: str
    id: str
    time: datetime
    item: Any


@dataclass(frozen=True)
class HistoryPage:
    items: list[Entry]
    next_cursor: str | None


def encode_cursor(time: datetime, entry_id: str) -> str:
    text = f"{time.astimezone(UTC).isoformat()}|{entry_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The time and id a cursor of this list carries; ``Invalid`` naming ``cursor`` otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, entry_id = text.split("|")
        given = datetime.fromisoformat(stamp)
        time = given.astimezone(UTC) if given.tzinfo is not None else None
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise Invalid(BAD_CURSOR, field="cursor") from exc
    if time is None or not _ID.match(entry_id):
        raise Invalid(BAD_CURSOR, field="cursor")
    return time, entry_id


_SOURCES: tuple[tuple[str, Any, Any, Any], ...] = (
    ("reward", IssuedReward, IssuedReward.created_at, IssuedReward.member_id),
    ("voucher", Voucher, Voucher.issued_at, Voucher.member_id),
    ("points", PointsTransaction, PointsTransaction.created_at, PointsTransaction.member_id),
)


def _source(
    kind: str,
    model: Any,
    time: Any,
    member: Any,
    member_id: str,
    after: tuple[datetime, str] | None,
) -> Select[Any]:
    stmt = select(
        literal_column(f"'{kind}'").label("type"), model.id.label("id"), time.label("at")
    ).where(member == member_id)
    if after is not None:
        at, last_id = after
        stmt = stmt.where(or_(time < at, and_(time == at, model.id < last_id)))
    return stmt


async def _items(session: AsyncSession, model: Any, ids: Sequence[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(list(ids))))
    return {row.id: row for row in rows}


async def member_history(
    session: AsyncSession, member_id: str, *, cursor: str | None, limit: int
) -> HistoryPage:
    """One page of the member's history, newest first (``NotFound`` for no such member)."""
    await get_member(session, member_id)
    after = decode_cursor(cursor) if cursor else None
    merged = union_all(
        *(
            _source(kind, model, time, member, member_id, after)
            for kind, model, time, member in _SOURCES
        )
    ).subquery("history")
    rows = list(
        await session.execute(
            select(merged.c.type, merged.c.id, merged.c.at)
            .order_by(merged.c.at.desc(), merged.c.id.desc())
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    found: dict[str, dict[str, Any]] = {}
    for kind, model, *_ in _SOURCES:
        found[kind] = await _items(session, model, [row.id for row in rows if row.type == kind])
    # The union's time column is untyped on SQLite: each entry's time is its item's own column.
    entries = []
    for row in rows:
        item = found[row.type][row.id]
        time = item.issued_at if row.type == "voucher" else item.created_at
        entries.append(Entry(row.type, row.id, time, item))
    last = entries[-1] if entries else None
    return HistoryPage(entries, encode_cursor(last.time, last.id) if more and last else None)
