"""Free bets and a cancel are stamped in the order they took the enrollment's lock (issue 16):
under concurrent bets and a cancel, the bets list in the order they were counted, their times
never go back, and none is stamped after the cancellation that followed it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from bestow.deps import Runtime
from bestow.models import OperatorEnrollment, OperatorFreeBet
from tests.operator.helpers import FIXED, Operator, bet, call, enrol, make_operator, reward

pytestmark = pytest.mark.asyncio

BETS = 40


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def test_bets_and_a_cancel_in_lock_order(
    app_client: httpx.AsyncClient, runtime: Runtime, operator: Operator
) -> None:
    found = await reward(app_client, operator, freeBetDetails={**FIXED, "betCount": 100})
    eid = (await enrol(app_client, operator, found["id"], "orderly"))["id"]
    cancel = call(
        app_client,
        operator,
        "POST",
        f"/v1/enrollments/{eid}/cancel",
        {"cancelledBy": "ops@example.com"},
    )
    bets = [bet(app_client, operator, eid, f"bet-{n}") for n in range(BETS)]
    responses = await asyncio.gather(*bets[: BETS // 2], cancel, *bets[BETS // 2 :])

    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    async with runtime.db.session() as session:
        enrollment = await session.get(OperatorEnrollment, eid)
        placed = list(
            await session.scalars(
                select(OperatorFreeBet)
                .where(OperatorFreeBet.enrollment_id == eid)
                .order_by(OperatorFreeBet.remaining_bet_count.desc())
            )
        )
    assert enrollment is not None and enrollment.cancelled_at is not None
    times = [b.placed_at for b in placed]
    assert times == sorted(times)
    assert all(moment <= enrollment.cancelled_at for moment in times)
    listed = await call(app_client, operator, "GET", f"/v1/enrollments/{eid}/bets")
    assert [b["betId"] for b in listed.json()["data"]] == [b.bet_id for b in placed]
