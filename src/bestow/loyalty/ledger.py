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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import dialect_insert, dialect_of, utcnow
from bestow.kit.ids import new_id
from bestow.kit.outbox import envelope, event_type, record_event
from bestow.kit.timefmt import iso
from bestow.models import PointsBalance, PointsEntry, PointsTransaction

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


async def lock_balance(session: AsyncSession, member_id: str, now: datetime) -> int:
    """The member's balance, its row created at 0 if need be and locked till the end of the
    transaction: one upsert, whose update takes the row lock."""
    stmt = dialect_insert(dialect_of(session), PointsBalance.__table__).values(
        member_id=member_id, balance=0, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["member_id"], set_={"updated_at": now}
    ).returning(PointsBalance.balance)
    balance = await session.scalar(stmt)
    return int(balance or 0)


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
    balance = await lock_balance(session, member_id, now)
    if external_reference_id is not None:
        earlier = await session.scalar(
            select(PointsTransaction).where(
                PointsTransaction.member_id == member_id,
                PointsTransaction.reward_id == reward_id,
                PointsTransaction.external_reference_id == external_reference_id,
            )
        )
        if earlier is not None:
            return Movement(earlier, replayed=True)
    after = balance + amount
    if after < 0:
        raise InsufficientPoints(balance)
    await session.execute(
        update(PointsBalance)
        .where(PointsBalance.member_id == member_id)
        .values(balance=after, updated_at=now)
    )
    transaction = PointsTransaction(
        id=new_id("ptx"),
        client_id=client_id,
        merchant_id=merchant_id,
        member_id=member_id,
        kind=kind,
        reward_id=reward_id,
        issuer_id=issuer_id,
        business_unit=business_unit,
        channel=channel,
        amount=amount,
        balance_after=after,
        external_reference_id=external_reference_id,
        job_id=job_id,
        created_at=now,
    )
    session.add(transaction)
    await session.flush([transaction])
    await session.execute(
        insert(PointsEntry),
        [
            entry(transaction.id, member_account(member_id), amount, now),
            entry(transaction.id, issuer_account(merchant_id, issuer_id), -amount, now),
        ],
    )
    record_event(
        session,
        POINTS_AWARDED if amount > 0 else POINTS_DEDUCTED,
        subject_type="points_transaction",
        subject_id=transaction.id,
        payload=event_payload(transaction),
        client_id=client_id,
        merchant_id=merchant_id,
    )
    return Movement(transaction, replayed=False)


def entry(transaction_id: str, account: str, amount: int, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("pte"),
        "transaction_id": transaction_id,
        "account": account,
        "amount": amount,
        "created_at": now,
    }


def event_payload(transaction: PointsTransaction) -> dict[str, Any]:
    """The ``{"event", "timestamp", "data"}`` body of a points event."""
    name = POINTS_AWARDED.name if transaction.amount > 0 else POINTS_DEDUCTED.name
    return envelope(
        name,
        iso(transaction.created_at) or "",
        {
            "transaction_id": transaction.id,
            "account_member_id": transaction.member_id,
            "merchant_id": transaction.merchant_id,
            "kind": transaction.kind,
            "reward_id": transaction.reward_id,
            "issuer_id": transaction.issuer_id,
            "business_unit": transaction.business_unit,
            "channel": transaction.channel,
            "points": transaction.amount,
            "balance": transaction.balance_after,
            "external_reference_id": transaction.external_reference_id,
        },
    )


async def balance_of(session: AsyncSession, member_id: str) -> int:
    balance = await session.scalar(
        select(PointsBalance.balance).where(PointsBalance.member_id == member_id)
    )
    return int(balance or 0)
