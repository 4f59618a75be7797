"""The ledger reads as it happened (issue 16): 120 concurrent awards and deductions on one member,
through the real HTTP application, leave a history in which every adjacent pair holds
``balanceAfter[i] = balanceAfter[i-1] + points[i]`` (oldest first), and whose dates never go
back. Movements are numbered and stamped under the member's balance lock."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from bestow.deps import Runtime
from bestow.kit.db import INT64_MAX, utcnow
from bestow.loyalty import ledger
from bestow.models import PointsBalance, PointsTransaction
from tests.loyalty.helpers import (
    MAXIMUM,
    Programme,
    assert_ledger,
    award,
    balance,
    make_member,
    open_session,
    refused,
    reward_body,
)

pytestmark = pytest.mark.asyncio

CONCURRENT = 120


async def history(
    app_client: httpx.AsyncClient, programme: Programme, correlation_id: str
) -> list[dict[str, Any]]:
    """Every transaction of the session's member, newest first, page by page."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["transactionId"] = cursor
        response = await app_client.get(
            f"/client/users/{correlation_id}/transactions/history/v2",
            params=params,
            headers=programme.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["transactions"])
        cursor = body["nextTransactionId"]
        if cursor is None:
            return found


async def test_concurrent_awards_and_deductions_read_in_ledger_order(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    opening = await award(app_client, programme.headers, correlation_id, reward_body(MAXIMUM))
    assert opening.status_code == 200, opening.text
    amounts = [n if n % 2 else -7 for n in range(1, CONCURRENT + 1)]

    responses = await asyncio.gather(
        *(award(app_client, programme.headers, correlation_id, reward_body(a)) for a in amounts)
    )

    assert [r.status_code for r in responses] == [200] * CONCURRENT, [
        r.text for r in responses if r.status_code != 200
    ]
    oldest_first = list(reversed(await history(app_client, programme, correlation_id)))
    assert len(oldest_first) == CONCURRENT + 1
    broken = [
        (before["transactionId"], after["transactionId"])
        for before, after in itertools.pairwise(oldest_first)
        if after["balanceAfter"] != before["balanceAfter"] + after["points"]
    ]
    assert broken == []
    assert oldest_first[0]["balanceAfter"] == MAXIMUM
    assert oldest_first[-1]["balanceAfter"] == MAXIMUM + sum(amounts)
    assert await assert_ledger(runtime, member.id) == MAXIMUM + sum(amounts)
    async with runtime.db.session() as session:
        rows = list(
            await session.execute(
                select(PointsTransaction.sequence, PointsTransaction.created_at)
                .where(PointsTransaction.member_id == member.id)
                .order_by(PointsTransaction.sequence)
            )
        )
    stamps = [created for _, created in rows]
    assert stamps == sorted(stamps)
    assert len({number for number, _ in rows}) == CONCURRENT + 1


async def test_an_award_past_the_64_bit_maximum_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """Refused in the Loyalty API's shape, the balance unchanged; what still fits is credited."""
    member = await make_member(runtime, programme.merchant_id)
    async with runtime.db.write_session() as session:
        await session.execute(
            insert(PointsBalance).values(
                member_id=member.id, balance=INT64_MAX - 10, updated_at=utcnow()
            )
        )
        await session.commit()
    correlation_id = await open_session(app_client, programme.headers, member)

    refused(
        await award(app_client, programme.headers, correlation_id, reward_body(11)),
        ledger.BALANCE_TOO_LARGE,
    )
    assert await balance(runtime, member.id) == INT64_MAX - 10
    fits = await award(app_client, programme.headers, correlation_id, reward_body(10))
    assert fits.status_code == 200, fits.text
    assert await balance(runtime, member.id) == INT64_MAX
