"""The points ledger: append-only, double-entry, integer points.

Every movement is a ``PointsTransaction`` with two ``PointsEntry`` rows that sum to zero: the
member's account (``member:<id>``) and the issuing side (``issuer:<merchant>:<issuer id>``). The
member's balance is kept in ``PointsBalance`` in the same transaction, so it is always the sum of
the member's entries (``bench/loyalty.py`` checks it after its load).

Concurrency: a movement first upserts the member's balance row, which takes its row lock
(PostgreSQL; SQLite serialises writers), so movements of one member queue and none is lost. The
same lock makes a repeated ``external_reference_id`` safe: the second request, waiting on the
lock, then sees the first's transaction and returns it instead of crediting twice. The issuing
side keeps no balance row, so awards to different members never wait on each other.

Order: the same upsert counts the account's movements (``PointsBalance.sequence``) and the
transaction takes that number, and its ``created_at`` is read once the lock is held: in the
order of the lock, which is the order of the balances. The history reads by ``sequence``.

References are the client's own: the same ``external_reference_id`` from two clients of one
programme names two transactions.

Width: points are 64-bit on both databases. A balance that would pass ``INT64_MAX`` is refused
(``BalanceTooLarge``, a row error: a campaign's chunk fails that member alone), before anything
is added: the upsert's guard leaves such a balance as it was.

``move_many`` does the same for many members at once (a campaign's chunk, its revocation), set
based: one upsert updates (and locks) every balance, taking the rows in member-id order so that it
cannot deadlock with another one, and the transactions, entries and events are written in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, insert, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import INT64_MAX, WriteSession, bulk_insert, dialect_insert, dialect_of, utcnow
from bestow.kit.errors import Invalid, InvalidState
from bestow.kit.ids import new_id
from bestow.kit.isolation import RowError
from bestow.kit.outbox import event_row, event_type
from bestow.kit.timefmt import iso
from bestow.members.service import get_member
from bestow.models import OutboxEvent, PointsBalance, PointsEntry, PointsTransaction
from bestow.webhooks import fanout

POINTS_AWARDED = event_type(
    "points.awarded", "Points credited to a member's account", surface="loyalty"
)
POINTS_DEDUCTED = event_type(
    "points.deducted", "Points taken from a member's account", surface="loyalty"
)


INSUFFICIENT_POINTS = "Insufficient points balance for the reward amount"
BALANCE_TOO_LARGE = f"The points balance would exceed {INT64_MAX:,}"


class InsufficientPoints(InvalidState):
    """A deduction larger than the member's balance: balances never go below zero."""

    def __init__(self, balance: int) -> None:
        super().__init__(INSUFFICIENT_POINTS, balance=balance)
        self.balance = balance


class BalanceTooLarge(RowError, Invalid):
    """A credit that would take the balance past ``INT64_MAX``: nothing was added.

    A ``RowError`` too, so that in a campaign's chunk it fails that member alone
    (``kit.isolation``); ``reason`` and ``message`` are the same sentence."""

    def __init__(self, member_ids: list[str]) -> None:
        super().__init__(BALANCE_TOO_LARGE)
        self.member_ids = member_ids


@dataclass(frozen=True)
class Movement:
    transaction: PointsTransaction
    replayed: bool


def member_account(member_id: str) -> str:
    return f"member:{member_id}"


def issuer_account(merchant_id: str, issuer_id: str) -> str:
    return f"issuer:{merchant_id}:{issuer_id}"


_INSERT_TRANSACTION = insert(cast(Table, PointsTransaction.__table__))
_INSERT_ENTRIES = insert(cast(Table, PointsEntry.__table__))
_INSERT_EVENT = insert(cast(Table, OutboxEvent.__table__))
_EARLIER = select(PointsTransaction).where(
    PointsTransaction.client_id == bindparam("client_id"),
    PointsTransaction.member_id == bindparam("member_id"),
    PointsTransaction.reward_id == bindparam("reward_id"),
    PointsTransaction.external_reference_id == bindparam("reference"),
)
_EARLIER_WITHOUT_CLIENT = select(PointsTransaction).where(
    PointsTransaction.client_id.is_(None),
    PointsTransaction.member_id == bindparam("member_id"),
    PointsTransaction.reward_id == bindparam("reward_id"),
    PointsTransaction.external_reference_id == bindparam("reference"),
)
"""Statements built once and executed with parameters: building one per call (and its cache key)
was most of the CPU of an ad hoc award."""


@cache
def _add(dialect: str) -> Any:
    """The upsert that adds ``delta`` to the balance of ``member_id`` (its row created at 0 if
    need be, and locked till the end of the transaction) and counts the movement, returning the
    member, the balance after and the movement's number: one statement, of parameters
    ``member_id``, ``delta`` and ``now``. A credit that would pass ``INT64_MAX`` changes nothing
    and returns no row (the guard cannot overflow: it subtracts a positive delta from the
    maximum)."""
    table = PointsBalance.__table__
    stmt = dialect_insert(dialect, table).values(
        member_id=bindparam("member_id"),
        balance=bindparam("delta"),
        sequence=literal(1),
        updated_at=bindparam("now"),
    )
    excluded = stmt.excluded  # type: ignore[attr-defined]
    return stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["member_id"],
        set_={
            "balance": table.c.balance + excluded.balance,
            "sequence": table.c.sequence + 1,
            "updated_at": excluded.updated_at,
        },
        where=case(
            (excluded.balance > 0, table.c.balance <= literal(INT64_MAX) - excluded.balance),
            else_=true(),
        ),
    ).returning(PointsBalance.member_id, PointsBalance.balance, PointsBalance.sequence)


async def move(
    session: WriteSession,
    *,
    member_id: str,
    merchant_id: str,
    amount: int,
    reward_id: str,
    issuer_id: str,
    kind: str = "adhoc",
    client_id: str | None = None,
    business_unit: str | None = None,
    channel: str | None = None,
    external_reference_id: str | None = None,
    job_id: str | None = None,
) -> Movement:
    """Credit (``amount`` > 0) or debit (< 0) the member, once per client's external reference.

    The same ``external_reference_id`` from the same client for the same member and reward
    returns the original transaction, whatever this request's amount (``Movement.replayed``). A
    debit beyond the balance raises ``InsufficientPoints``, a credit past ``INT64_MAX``
    ``BalanceTooLarge``. The caller commits."""
    # One upsert adds the amount and locks the balance row; a replay or a refusal, both rare,
    # then take the amount back before returning or raising.
    add = _add(dialect_of(session))
    params = {"member_id": member_id, "delta": amount, "now": utcnow()}
    added = (await session.execute(add, params)).first()
    earlier = None
    if external_reference_id is not None:
        earlier = await session.scalar(
            _EARLIER if client_id is not None else _EARLIER_WITHOUT_CLIENT,
            {
                "client_id": client_id,
                "member_id": member_id,
                "reward_id": reward_id,
                "reference": external_reference_id,
            },
        )
    if added is None:  # nothing was added: the balance would not fit
        if earlier is not None:
            return Movement(earlier, replayed=True)
        raise BalanceTooLarge([member_id])
    if earlier is not None:
        await session.execute(add, params | {"delta": -amount})
        return Movement(earlier, replayed=True)
    after = int(added.balance)
    if after < 0:
        await session.execute(add, params | {"delta": -amount})
        raise InsufficientPoints(after - amount)
    now = utcnow()  # under the lock: stamps follow the order of the balances
    transaction_id = new_id("ptx")
    row: dict[str, Any] = {
        "id": transaction_id,
        "client_id": client_id,
        "merchant_id": merchant_id,
        "member_id": member_id,
        "kind": kind,
        "reward_id": reward_id,
        "issuer_id": issuer_id,
        "business_unit": business_unit,
        "channel": channel,
        "amount": amount,
        "balance_after": after,
        "sequence": int(added.sequence),
        "external_reference_id": external_reference_id,
        "job_id": job_id,
        "created_at": now,
    }
    await session.execute(_INSERT_TRANSACTION, row)
    await session.execute(
        _INSERT_ENTRIES,
        [
            entry(transaction_id, member_account(member_id), amount, now),
            entry(transaction_id, issuer_account(merchant_id, issuer_id), -amount, now),
        ],
    )
    event = event_row(
        POINTS_AWARDED if amount > 0 else POINTS_DEDUCTED,
        subject_type="points_transaction",
        subject_id=transaction_id,
        data=event_data(row),
        now=now,
        client_id=client_id,
        merchant_id=merchant_id,
    )
    await session.execute(_INSERT_EVENT, event)
    return Movement(PointsTransaction(**row), replayed=False)


def entry(transaction_id: str, account: str, amount: int, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("pte"),
        "transaction_id": transaction_id,
        "account": account,
        "amount": amount,
        "created_at": now,
    }


def event_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` of a points event, from its transaction's columns."""
    return {
        "transaction_id": row["id"],
        "account_member_id": row["member_id"],
        "merchant_id": row["merchant_id"],
        "kind": row["kind"],
        "reward_id": row["reward_id"],
        "issuer_id": row["issuer_id"],
        "business_unit": row["business_unit"],
        "channel": row["channel"],
        "points": row["amount"],
        "balance": row["balance_after"],
        "external_reference_id": row["external_reference_id"],
    }


async def balance_of(session: AsyncSession, member_id: str) -> int:
    balance = await session.scalar(
        select(PointsBalance.balance).where(PointsBalance.member_id == member_id)
    )
    return int(balance or 0)


@dataclass(frozen=True)
class MemberPoints:
    member_id: str
    merchant_id: str
    balance: int
    transactions: list[PointsTransaction]
    """The latest, newest first in the ledger's order."""


async def member_points(session: AsyncSession, member_id: str, *, limit: int) -> MemberPoints:
    """A member's balance and latest ``limit`` transactions (``NotFound`` for no such member)."""
    member = await get_member(session, member_id)
    rows = await session.scalars(
        select(PointsTransaction)
        .where(PointsTransaction.member_id == member_id)
        .order_by(PointsTransaction.sequence.desc())
        .limit(limit)
    )
    return MemberPoints(
        member_id=member.id,
        merchant_id=member.merchant_id,
        balance=await balance_of(session, member_id),
        transactions=list(rows),
    )


# --- many members at once ------------------------------------------------------------------------


@dataclass(frozen=True)
class Posting:
    """One member's movement in ``move_many``: ``amount`` > 0 credits, < 0 debits."""

    member_id: str
    amount: int
    external_reference_id: str
    reward_id: str
    issuer_id: str


async def add_to_balances(
    session: WriteSession, deltas: list[tuple[str, int]], now: datetime
) -> dict[str, tuple[int, int]]:
    """Add each (member id, delta) to the member's balance (its row created at 0 if need be) and
    lock the rows till the end of the transaction, in member-id order, with ``move``'s upsert (a
    statement per 1,000 members); returns the balances after and the movements' numbers, by
    member id. A member appears once at most. ``BalanceTooLarge`` names the members whose
    balance would pass ``INT64_MAX`` (theirs are unchanged; the caller's savepoint or
    transaction takes back the others')."""
    if not deltas:
        return {}
    params = [{"member_id": m, "delta": delta, "now": now} for m, delta in sorted(deltas)]
    result = await session.execute(_add(dialect_of(session)), params)
    added = {member_id: (int(balance), int(number)) for member_id, balance, number in result}
    refused = [member_id for member_id, _ in deltas if member_id not in added]
    if refused:
        raise BalanceTooLarge(sorted(refused))
    return added


async def move_many(
    session: WriteSession,
    postings: list[Posting],
    *,
    merchant_id: str,
    kind: str,
    now: datetime,
    client_id: str | None = None,
    job_id: str | None = None,
) -> dict[str, dict[str, Any]]:
    """``move`` for many members at once (each at most once), set based: returns each member's
    transaction as its row's columns, by member id.

    A posting whose external reference the member already has from this client for that reward
    is not moved again: the earlier transaction is returned instead. A debit beyond the balance
    takes what is left (nothing when the balance is 0: the member then has no transaction);
    ``move`` refuses such a debit instead. A credit past ``INT64_MAX`` raises
    ``BalanceTooLarge``. The caller commits."""
    if not postings:
        return {}
    members = [p.member_id for p in postings]
    assert len(set(members)) == len(members), "one posting per member"
    table = PointsTransaction.__table__
    earlier = await session.execute(
        select(table).where(
            table.c.client_id == client_id
            if client_id is not None
            else table.c.client_id.is_(None),
            table.c.member_id.in_(members),
            table.c.external_reference_id.in_(list({p.external_reference_id for p in postings})),
        )
    )
    wanted = {(p.member_id, p.reward_id, p.external_reference_id) for p in postings}
    done: dict[str, dict[str, Any]] = {}
    for found in earlier.mappings():
        if (found["member_id"], found["reward_id"], found["external_reference_id"]) in wanted:
            done[found["member_id"]] = dict(found)
    todo = sorted((p for p in postings if p.member_id not in done), key=lambda p: p.member_id)
    amounts = {p.member_id: p.amount for p in todo}
    if any(amount < 0 for amount in amounts.values()):
        held = await add_to_balances(session, [(p.member_id, 0) for p in todo if p.amount < 0], now)
        amounts = {m: max(a, -held[m][0]) if a < 0 else a for m, a in amounts.items()}
    balances = await add_to_balances(session, [(m, a) for m, a in amounts.items() if a], now)
    now = utcnow()  # under the locks: stamps follow the order of the balances
    rows: list[dict[str, Any]] = [
        {
            "id": new_id("ptx"),
            "client_id": client_id,
            "merchant_id": merchant_id,
            "member_id": p.member_id,
            "kind": kind,
            "reward_id": p.reward_id,
            "issuer_id": p.issuer_id,
            "business_unit": None,
            "channel": None,
            "amount": amounts[p.member_id],
            "balance_after": balances[p.member_id][0],
            "sequence": balances[p.member_id][1],
            "external_reference_id": p.external_reference_id,
            "job_id": job_id,
            "created_at": now,
        }
        for p in todo
        if amounts[p.member_id]
    ]
    await bulk_insert(session, table, rows)
    entries = []
    for row in rows:
        entries.append(entry(row["id"], member_account(row["member_id"]), row["amount"], now))
        issuer = issuer_account(merchant_id, row["issuer_id"])
        entries.append(entry(row["id"], issuer, -row["amount"], now))
    await bulk_insert(session, PointsEntry.__table__, entries)
    stamp = iso(now)
    events = [
        event_row(
            POINTS_AWARDED if row["amount"] > 0 else POINTS_DEDUCTED,
            subject_type="points_transaction",
            subject_id=row["id"],
            data=event_data(row),
            now=now,
            stamp=stamp,
            client_id=client_id,
            merchant_id=merchant_id,
        )
        for row in rows
    ]
    await fanout.write_events(session, events)
    return done | {row["member_id"]: row for row in rows}
