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

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import bulk_insert, dialect_insert, dialect_of, utcnow
from bestow.kit.ids import new_id
from bestow.kit.outbox import event_row, event_type
from bestow.kit.timefmt import iso
from bestow.models import OutboxEvent, PointsBalance, PointsEntry, PointsTransaction
from bestow.webhooks import fanout

POINTS_AWARDED = event_type(
    "points.awarded", "Points credited to a member's account", surface="loyalty"
)
POINTS_DEDUCTED = event_type(
    "points.deducted", "Points taken from a member's account", surface="loyalty"
)


class InsufficientPoints(Exception):
    """A deduction larger than the member's balance: balances never go below zero."""

    def __init__(self, balance: int) -> None:
        super().__init__(f"balance {balance}")
        self.balance = balance


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
    PointsTransaction.member_id == bindparam("member_id"),
    PointsTransaction.reward_id == bindparam("reward_id"),
    PointsTransaction.external_reference_id == bindparam("reference"),
)
"""Statements built once and executed with parameters: building one per call (and its cache key)
was most of the CPU of an ad hoc award."""


@cache
def _add(dialect: str) -> Any:
    """The upsert that adds ``delta`` to the balance of ``member_id`` (its row created at 0 if
    need be, and locked till the end of the transaction), returning the member and the balance
    after: one statement, of parameters ``member_id``, ``delta`` and ``now``."""
    stmt = dialect_insert(dialect, PointsBalance.__table__).values(
        member_id=bindparam("member_id"), balance=bindparam("delta"), updated_at=bindparam("now")
    )
    return stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["member_id"],
        set_={
            "balance": PointsBalance.__table__.c.balance + stmt.excluded.balance,  # type: ignore[attr-defined]
            "updated_at": stmt.excluded.updated_at,  # type: ignore[attr-defined]
        },
    ).returning(PointsBalance.member_id, PointsBalance.balance)


async def move(
    session: AsyncSession,
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
    """Credit (``amount`` > 0) or debit (< 0) the member, once per external reference.

    The same ``external_reference_id`` for the same member and reward returns the original
    transaction, whatever this request's amount (``Movement.replayed``). A debit beyond the
    balance raises ``InsufficientPoints``. The caller commits."""
    now = utcnow()
    # One upsert adds the amount and locks the balance row; a replay or a refusal, both rare,
    # then take the amount back before returning or raising.
    add = _add(dialect_of(session))
    params = {"member_id": member_id, "delta": amount, "now": now}
    after = int((await session.execute(add, params)).one().balance)
    if external_reference_id is not None:
        earlier = await session.scalar(
            _EARLIER,
            {"member_id": member_id, "reward_id": reward_id, "reference": external_reference_id},
        )
        if earlier is not None:
            await session.execute(add, params | {"delta": -amount})
            return Movement(earlier, replayed=True)
    if after < 0:
        await session.execute(add, params | {"delta": -amount})
        raise InsufficientPoints(after - amount)
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
    session: AsyncSession, deltas: list[tuple[str, int]], now: datetime
) -> dict[str, int]:
    """Add each (member id, delta) to the member's balance (its row created at 0 if need be) and
    lock the rows till the end of the transaction, in member-id order, with ``move``'s upsert (a
    statement per 1,000 members); returns the balances after, by member id. A member appears once
    at most."""
    if not deltas:
        return {}
    params = [{"member_id": m, "delta": delta, "now": now} for m, delta in sorted(deltas)]
    result = await session.execute(_add(dialect_of(session)), params)
    return {member_id: int(balance) for member_id, balance in result}


async def move_many(
    session: AsyncSession,
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

    A posting whose external reference the member already has for that reward is not moved again:
    the earlier transaction is returned instead. A debit beyond the balance takes what is left
    (nothing when the balance is 0: the member then has no transaction); ``move`` refuses such a
    debit instead. The caller commits."""
    if not postings:
        return {}
    members = [p.member_id for p in postings]
    assert len(set(members)) == len(members), "one posting per member"
    table = PointsTransaction.__table__
    earlier = await session.execute(
        select(table).where(
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
        amounts = {m: max(a, -held[m]) if a < 0 else a for m, a in amounts.items()}
    balances = await add_to_balances(session, [(m, a) for m, a in amounts.items() if a], now)
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
            "balance_after": balances[p.member_id],
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
