"""Helpers of the issued-reward and member-history tests (Admin API and CLI): a merchant and its
members, and rewards, vouchers and points transactions written as of a given time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bestow.deps import Runtime
from bestow.kit.db import bulk_insert
from bestow.kit.ids import new_id
from bestow.members import service as members
from bestow.merchants import service as merchants
from bestow.models import IssuedReward, PointsTransaction, Voucher
from bestow.vouchers import issuing
from tests.conftest import ACTOR, unique
from tests.vouchers.helpers import make_product

T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
"""The tests' times are minutes after this one (a time of no other test's rewards)."""


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def new_merchant(runtime: Runtime) -> str:
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Rewards Test", handle=unique("rwd"), time_zone="UTC", actor=ACTOR
        )
        await session.commit()
    return merchant.id


async def new_member(runtime: Runtime, merchant_id: str) -> str:
    async with runtime.db.write_session() as session:
        member = await members.create_member(
            session, merchant_id=merchant_id, actor=ACTOR, loyalty_id=unique("L")
        )
        await session.commit()
    return member.id


def ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids, in increasing order (ids made in one millisecond are not)."""
    return sorted(new_id(prefix) for _ in range(count))


async def add_rewards(runtime: Runtime, rows: list[dict[str, Any]]) -> list[str]:
    """Issued rewards, each ``rows`` item giving ``member_id``, ``merchant_id`` and any other
    column; ids increase in the order given, and ``created_at`` follows them unless given."""
    made = []
    for index, (reward_id, row) in enumerate(zip(ids("rwd", len(rows)), rows, strict=True)):
        made.append(
            {
                "id": reward_id,
                "client_id": None,
                "campaign_id": None,
                "variant_id": None,
                "template_id": None,
                "job_id": None,
                "identifier_index": None,
                "kind": "discount",
                "state": "active",
                "valid_from": None,
                "valid_to": None,
                "created_at": at(index),
                "revoked_at": None,
                **row,
            }
        )
    async with runtime.db.write_session() as session:
        await bulk_insert(session, IssuedReward.__table__, made)
        await session.commit()
    return [row["id"] for row in made]


@dataclass(frozen=True)
class SeededVoucher:
    id: str
    code: str
    sealed_pin: str
    pin: str


async def add_voucher(
    runtime: Runtime, member_id: str, when: datetime, reward_id: str | None = None
) -> SeededVoucher:
    product = await make_product(runtime)
    rows = issuing.voucher_rows(
        product,
        sealer=runtime.sealer,
        count=1,
        value=1000,
        now=when,
        source="campaign",
        billable=False,
        client_id=None,
        links=[(reward_id, member_id)],
    )
    async with runtime.db.write_session() as session:
        await bulk_insert(session, Voucher.__table__, rows)
        await session.commit()
    row = rows[0]
    return SeededVoucher(
        row["id"], row["code"], row["sealed_pin"], runtime.sealer.unseal(row["sealed_pin"])
    )


async def add_points(
    runtime: Runtime, merchant_id: str, member_id: str, amounts: list[tuple[int, datetime]]
) -> list[str]:
    """Points transactions of the member, ``(amount, time)`` each, in that sequence."""
    rows: list[dict[str, Any]] = []
    balance = 0
    for sequence, (transaction_id, (amount, when)) in enumerate(
        zip(ids("ptx", len(amounts)), amounts, strict=True), start=1
    ):
        balance += amount
        rows.append(
            {
                "id": transaction_id,
                "client_id": None,
                "merchant_id": merchant_id,
                "member_id": member_id,
                "kind": "adhoc",
                "reward_id": "WELCOME",
                "issuer_id": "crm",
                "business_unit": None,
                "channel": None,
                "amount": amount,
                "balance_after": balance,
                "sequence": sequence,
                "external_reference_id": None,
                "job_id": None,
                "created_at": when,
            }
        )
    async with runtime.db.write_session() as session:
        await bulk_insert(session, PointsTransaction.__table__, rows)
        await session.commit()
    return [row["id"] for row in rows]
