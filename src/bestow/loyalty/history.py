"""Transaction history (``GET /client/users/:correlation_id/transactions/history/v2``): the
session member's points transactions, newest first, a page at a time.

The order is the account's ``sequence``, descending: the order in which the movements took the
member's balance lock, so that each ``balanceAfter`` is the one before it plus its ``points``
(timestamps taken by concurrent requests may disagree with that order; ``created_at``, stamped
under the lock, is what the time window filters). A page is one range scan of the
``(member_id, sequence)`` index: the cursor (``transactionId``, the last transaction of the
previous page) is looked up by its key, then the page starts strictly after its ``sequence``. One
row more than the page is read to know whether another page follows.

The window is ``from`` to ``to`` in epoch milliseconds, both ends inclusive (``to`` covers its
whole millisecond); by default the year up to now, and ``from`` alone defaults to a year before
``to``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import WriteSession
from bestow.kit.errors import Invalid
from bestow.kit.timefmt import iso
from bestow.loyalty import sessions
from bestow.loyalty.adhoc import ACCOUNT_NOT_FOUND
from bestow.models import PointsTransaction

DEFAULT_LIMIT = 30
MAX_LIMIT = 150
LOOK_BACK = timedelta(days=365)
MAX_EPOCH_MS = 253402300799999
"""9999-12-31T23:59:59.999Z: later instants are not dates."""
TYPES = {
    "adhoc": "AD_HOC_REWARD",
    "campaign": "CAMPAIGN_REWARD",
    "campaign_reversal": "CAMPAIGN_REVERSAL",
}
"""``PointsTransaction.kind`` on the wire; another kind is its name upper-cased."""

BAD_LIMIT = f"limit must be an integer between 1 and {MAX_LIMIT}"
BAD_TIME = "{field} must be a time in epoch milliseconds"
BAD_WINDOW = "from must not be later than to"
BAD_CURSOR = "transactionId is not a transaction of this account"
_DIGITS = re.compile(r"^[0-9]{1,15}$")


@dataclass(frozen=True)
class HistoryQuery:
    limit: int
    cursor: str | None
    since: datetime
    until: datetime
    """Exclusive: the millisecond after ``to``."""


@dataclass(frozen=True)
class Page:
    transactions: list[PointsTransaction]
    next_transaction_id: str | None
    """The cursor of the next page; None on the last one."""


def _epoch_ms(value: str, field: str) -> datetime:
    text = value.strip()
    if not _DIGITS.match(text) or int(text) > MAX_EPOCH_MS:
        raise Invalid(BAD_TIME.format(field=field), field=field)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(text))


def parse_query(
    *,
    limit: str | None,
    transaction_id: str | None,
    since: str | None,
    until: str | None,
    now: datetime,
) -> HistoryQuery:
    """The query's parameters (blank is absent), or ``Invalid`` naming the first bad one."""
    size = DEFAULT_LIMIT
    if limit is not None and limit.strip():
        text = limit.strip()
        if not _DIGITS.match(text) or not 1 <= int(text) <= MAX_LIMIT:
            raise Invalid(BAD_LIMIT, field="limit")
        size = int(text)
    end = _epoch_ms(until, "to") if until is not None and until.strip() else now
    start = _epoch_ms(since, "from") if since is not None and since.strip() else end - LOOK_BACK
    if start > end:
        raise Invalid(BAD_WINDOW, field="from")
    cursor = transaction_id.strip() if transaction_id is not None else None
    return HistoryQuery(size, cursor or None, start, end + timedelta(milliseconds=1))


async def page(session: AsyncSession, *, member_id: str, query: HistoryQuery) -> Page:
    """One page of the member's transactions in the window, newest first."""
    stmt = select(PointsTransaction).where(
        PointsTransaction.member_id == member_id,
        PointsTransaction.created_at >= query.since,
        PointsTransaction.created_at < query.until,
    )
    if query.cursor is not None:
        after = (
            await session.execute(
                select(PointsTransaction.sequence).where(
                    PointsTransaction.id == query.cursor,
                    PointsTransaction.member_id == member_id,
                )
            )
        ).first()
        if after is None:
            raise Invalid(BAD_CURSOR, field="transactionId")
        stmt = stmt.where(PointsTransaction.sequence < after.sequence)
    rows = list(
        await session.scalars(
            stmt.order_by(PointsTransaction.sequence.desc()).limit(query.limit + 1)
        )
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Page(rows, rows[-1].id if more else None)


async def history(
    session: WriteSession,
    *,
    client_id: str,
    correlation_id: str,
    query: HistoryQuery,
    idle: timedelta,
) -> Page:
    """The page of the session's member (keeping the session alive); ``Invalid`` with the ad hoc
    reward's ``Could not find the account`` when the session is unknown or over. The caller
    commits (the session's renewal)."""
    member = await sessions.session_member(
        session, client_id=client_id, correlation_id=correlation_id, idle=idle
    )
    if member is None:
        raise Invalid(ACCOUNT_NOT_FOUND)
    return await page(session, member_id=member.id, query=query)


def transaction_type(transaction: PointsTransaction) -> str:
    return TYPES.get(transaction.kind, transaction.kind.upper())


def transaction_json(transaction: PointsTransaction) -> dict[str, Any]:
    return {
        "transactionId": transaction.id,
        "transactionType": transaction_type(transaction),
        "transactionDate": iso(transaction.created_at),
        "points": transaction.amount,
        "balanceAfter": transaction.balance_after,
        "rewardId": transaction.reward_id,
        "issuerId": transaction.issuer_id,
        "businessUnit": transaction.business_unit,
        "channel": transaction.channel,
        "externalReferenceId": transaction.external_reference_id,
    }
