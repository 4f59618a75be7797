"""Migration 0009 on a database with points in it (issue 16): every transaction and entry is kept
(SQLite rebuilds the transactions' table, whose entries cascade), existing transactions are
numbered in the order the history used (time, then id) and each balance holds its account's
last number, and afterwards another client may use a reference the first client used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from bestow.kit.db import Database, utcnow
from bestow.kit.migrate import upgrade_async
from bestow.loyalty import ledger
from bestow.models import Member, Merchant

pytestmark = pytest.mark.asyncio


TRANSACTION = text(
    "INSERT INTO points_transactions (id, client_id, merchant_id, member_id, kind, reward_id, "
    "issuer_id, amount, balance_after, external_reference_id, created_at) VALUES (:id, "
    ":client_id, :merchant_id, :member_id, 'adhoc', 'BONUS', 'till', :amount, :after, "
    ":reference, :created_at)"
)
ENTRY = text(
    "INSERT INTO points_entries (id, transaction_id, account, amount, created_at) "
    "VALUES (:id, :transaction_id, :account, :amount, :created_at)"
)


async def test_points_survive_and_are_numbered(fresh_database: str) -> None:
    await upgrade_async(fresh_database, "0008")
    db = Database(fresh_database)
    now = utcnow()
    # Inserted out of time order: the numbering follows created_at, then id.
    moves = [("ptx_c", 30, 2), ("ptx_a", 100, 0), ("ptx_b", -20, 1), ("ptx_d", 5, 2)]
    try:
        async with db.write_session() as session:
            await session.execute(
                insert(Merchant).values(
                    id="mer_1", name="M", handle="m-1", created_at=now, updated_at=now
                )
            )
            await session.execute(
                insert(Member).values(
                    id="mbr_1",
                    merchant_id="mer_1",
                    account_id="acc-1",
                    created_at=now,
                    updated_at=now,
                )
            )
            running = {0: 100, 1: 80, 2: 110}
            for transaction_id, amount, minutes in moves:
                when = now + timedelta(minutes=minutes)
                await session.execute(
                    TRANSACTION,
                    {
                        "id": transaction_id,
                        "client_id": "cli_a",
                        "merchant_id": "mer_1",
                        "member_id": "mbr_1",
                        "amount": amount,
                        "after": running[minutes],
                        "reference": f"order-{transaction_id}",
                        "created_at": when,
                    },
                )
                for side, account in ((1, "member:mbr_1"), (-1, "issuer:mer_1:till")):
                    await session.execute(
                        ENTRY,
                        {
                            "id": f"{transaction_id}-{side}",
                            "transaction_id": transaction_id,
                            "account": account,
                            "amount": side * amount,
                            "created_at": when,
                        },
                    )
            await session.execute(
                text(
                    "INSERT INTO points_balances (member_id, balance, updated_at) "
                    "VALUES ('mbr_1', 85, :now)"
                ),
                {"now": now},
            )
            await session.commit()
    finally:
        await db.dispose()

    await upgrade_async(fresh_database)

    db = Database(fresh_database)
    try:
        async with db.write_session() as session:
            numbered = (
                await session.execute(
                    text("SELECT id, sequence FROM points_transactions ORDER BY sequence")
                )
            ).all()
            entries = await session.scalar(text("SELECT count(*) FROM points_entries"))
            last = await session.scalar(text("SELECT sequence FROM points_balances"))
            assert [tuple(row) for row in numbered] == [
                ("ptx_a", 1),
                ("ptx_b", 2),
                ("ptx_c", 3),
                ("ptx_d", 4),
            ]
            assert (entries, last) == (8, 4)
            # Another client of the programme may now use client A's reference.
            moved = await ledger.move(
                session,
                member_id="mbr_1",
                merchant_id="mer_1",
                amount=7,
                reward_id="BONUS",
                issuer_id="till",
                client_id="cli_b",
                external_reference_id="order-ptx_a",
            )
            replayed = await ledger.move(
                session,
                member_id="mbr_1",
                merchant_id="mer_1",
                amount=7,
                reward_id="BONUS",
                issuer_id="till",
                client_id="cli_a",
                external_reference_id="order-ptx_a",
            )
            await session.commit()
        assert not moved.replayed and moved.transaction.sequence == 5
        assert moved.transaction.balance_after == 92
        assert replayed.replayed and replayed.transaction.id == "ptx_a"
    finally:
        await db.dispose()
