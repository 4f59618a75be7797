"""Transaction History (``GET /client/users/{correlation_id}/transactions/history/v2``): pages
newest first by ``transactionId``, the ``from``/``to`` window, the limit's bounds, sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.loyalty import history, ledger
from bestow.models import LoyaltySession, PointsTransaction
from tests.conftest import unique
from tests.loyalty.helpers import (
    REWARD,
    UNIT,
    Programme,
    make_member,
    make_programme,
    open_session,
    refused,
)

NOT_FOUND = "Could not find the account"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
KEYS = {
    "transactionId",
    "transactionType",
    "transactionDate",
    "points",
    "balanceAfter",
    "rewardId",
    "issuerId",
    "businessUnit",
    "channel",
    "externalReferenceId",
}


# --- Helpers ---------------------------------------------------------------------------------


def path(correlation_id: str) -> str:
    return f"/client/users/{correlation_id}/transactions/history/v2"


def ms(value: datetime) -> int:
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


async def moves(
    runtime: Runtime, programme: Programme, member_id: str, count: int, **fields: Any
) -> list[str]:
    """``count`` awards of 1 to ``count`` points to the member: their ids, in creation order."""
    ids = []
    async with runtime.db.write_session() as session:
        for points in range(1, count + 1):
            movement = await ledger.move(
                session,
                member_id=member_id,
                merchant_id=programme.merchant_id,
                amount=points,
                reward_id=REWARD,
                issuer_id="issuer-1",
                client_id=programme.client_id,
                business_unit=UNIT,
                channel="APP",
                external_reference_id=unique("ref"),
                **fields,
            )
            ids.append(movement.transaction.id)
        await session.commit()
    return ids


async def set_times(runtime: Runtime, times: dict[str, datetime]) -> None:
    """Move transactions into the past (``created_at``)."""
    async with runtime.db.write_session() as session:
        for transaction_id, when in times.items():
            await session.execute(
                update(PointsTransaction)
                .where(PointsTransaction.id == transaction_id)
                .values(created_at=when)
            )
        await session.commit()


async def newest_first(runtime: Runtime, member_id: str) -> list[str]:
    """The member's transaction ids in the history's order, read straight from the table."""
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(PointsTransaction.id, PointsTransaction.sequence).where(
                PointsTransaction.member_id == member_id
            )
        )
        return [i for i, _ in sorted(rows.all(), key=lambda r: r[1], reverse=True)]


async def get(
    app_client: httpx.AsyncClient, programme: Programme, correlation_id: str, **params: Any
) -> httpx.Response:
    return await app_client.get(path(correlation_id), params=params, headers=programme.headers)


async def walk(
    app_client: httpx.AsyncClient, programme: Programme, correlation_id: str, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page, following ``nextTransactionId``."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        sent = dict(params) if cursor is None else {**params, "transactionId": cursor}
        response = await get(app_client, programme, correlation_id, **sent)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"transactions", "nextTransactionId"}
        pages.append(body["transactions"])
        cursor = body["nextTransactionId"]
        if cursor is None:
            return pages
        assert cursor == body["transactions"][-1]["transactionId"]
        assert len(pages) < 50


# --- Pages -----------------------------------------------------------------------------------


async def test_75_transactions_in_pages_of_30_newest_first(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    made = await moves(runtime, programme, member.id, 75)
    correlation_id = await open_session(app_client, programme.headers, member)

    pages = await walk(app_client, programme, correlation_id, limit=30)

    assert [len(p) for p in pages] == [30, 30, 15]
    seen = [t["transactionId"] for p in pages for t in p]
    assert len(set(seen)) == 75
    assert set(seen) == set(made)
    assert seen == await newest_first(runtime, member.id)
    balances = [t["balanceAfter"] for p in pages for t in p]
    assert balances == sorted(balances, reverse=True)
    newest = pages[0][0]
    assert set(newest) == KEYS
    assert newest["transactionId"] == made[-1]
    assert newest["transactionType"] == "AD_HOC_REWARD"
    assert DATE.match(newest["transactionDate"])
    assert newest["points"] == 75
    assert newest["balanceAfter"] == 75 * 76 // 2
    assert newest["rewardId"] == REWARD
    assert newest["issuerId"] == "issuer-1"
    assert newest["businessUnit"] == UNIT
    assert newest["channel"] == "APP"
    assert newest["externalReferenceId"].startswith("ref-")


async def test_default_limit_is_30_and_a_cursor_starts_after_it(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    await moves(runtime, programme, member.id, 40)
    correlation_id = await open_session(app_client, programme.headers, member)
    order = await newest_first(runtime, member.id)

    first = await get(app_client, programme, correlation_id)
    assert [t["transactionId"] for t in first.json()["transactions"]] == order[:30]
    assert first.json()["nextTransactionId"] == order[29]

    # Any transaction of the account is a cursor: the page starts right after it.
    after = await get(app_client, programme, correlation_id, transactionId=order[4], limit=3)
    assert [t["transactionId"] for t in after.json()["transactions"]] == order[5:8]
    assert after.json()["nextTransactionId"] == order[7]

    # The oldest as the cursor: an empty last page.
    last = await get(app_client, programme, correlation_id, transactionId=order[-1])
    assert last.json() == {"transactions": [], "nextTransactionId": None}

    # A page that ends exactly with the last transaction has no next one.
    exact = await get(app_client, programme, correlation_id, transactionId=order[9], limit=30)
    assert [t["transactionId"] for t in exact.json()["transactions"]] == order[10:]
    assert exact.json()["nextTransactionId"] is None


async def test_transactions_of_the_same_instant_are_paged_in_ledger_order(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """Ids are random within a millisecond, and a campaign's chunk shares one ``created_at``:
    the order (and the cursor) goes by the account's sequence, whatever the times."""
    member = await make_member(runtime, programme.merchant_id)
    made = await moves(runtime, programme, member.id, 20)
    base = utcnow().replace(microsecond=0) - timedelta(days=3)
    await set_times(runtime, {t: base - timedelta(hours=i % 3) for i, t in enumerate(made)})
    correlation_id = await open_session(app_client, programme.headers, member)

    pages = await walk(app_client, programme, correlation_id, limit=4)

    seen = [t["transactionId"] for p in pages for t in p]
    assert len(pages) == 5
    assert seen == await newest_first(runtime, member.id)
    assert len(set(seen)) == 20


async def test_types_and_deductions(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    await moves(runtime, programme, member.id, 1, kind="campaign")
    async with runtime.db.write_session() as session:
        await ledger.move(
            session,
            member_id=member.id,
            merchant_id=programme.merchant_id,
            amount=-1,
            reward_id=REWARD,
            issuer_id="issuer-1",
        )
        await session.commit()
    correlation_id = await open_session(app_client, programme.headers, member)

    body = (await get(app_client, programme, correlation_id)).json()

    deduction, campaign = body["transactions"]
    assert deduction["transactionType"] == "AD_HOC_REWARD"
    assert deduction["points"] == -1
    assert deduction["balanceAfter"] == 0
    assert deduction["businessUnit"] is None
    assert deduction["channel"] is None
    assert deduction["externalReferenceId"] is None
    assert campaign["transactionType"] == "CAMPAIGN_REWARD"
    assert campaign["points"] == 1


async def test_only_the_sessions_member(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    other = await make_member(runtime, programme.merchant_id)
    mine = await moves(runtime, programme, member.id, 3)
    theirs = await moves(runtime, programme, other.id, 3)
    correlation_id = await open_session(app_client, programme.headers, member)

    body = (await get(app_client, programme, correlation_id)).json()
    assert {t["transactionId"] for t in body["transactions"]} == set(mine)

    # Another account's transaction is no cursor here.
    response = await get(app_client, programme, correlation_id, transactionId=theirs[0])
    refused(response, history.BAD_CURSOR)
    refused(
        await get(app_client, programme, correlation_id, transactionId="ptx_x"), history.BAD_CURSOR
    )


# --- The window ------------------------------------------------------------------------------


async def test_from_and_to_in_epoch_milliseconds(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    made = await moves(runtime, programme, member.id, 6)
    base = utcnow().replace(microsecond=0) - timedelta(days=1)
    days = {0: 400, 1: 300, 2: 30, 3: 20, 4: 10}  # made[5] stays now
    times = {made[i]: base - timedelta(days=d, milliseconds=500) for i, d in days.items()}
    await set_times(runtime, times)
    correlation_id = await open_session(app_client, programme.headers, member)

    async def ids(**params: Any) -> list[str]:
        response = await get(app_client, programme, correlation_id, **params)
        assert response.status_code == 200, response.text
        return [t["transactionId"] for t in response.json()["transactions"]]

    # By default the last year: not the one of 400 days ago.
    assert await ids() == [made[5], made[4], made[3], made[2], made[1]]
    # Both ends inclusive, to the millisecond.
    older, newer = ms(times[made[2]]), ms(times[made[3]])
    assert await ids(**{"from": older, "to": newer}) == [made[3], made[2]]
    assert await ids(**{"from": older + 1, "to": newer}) == [made[3]]
    assert await ids(**{"from": older, "to": newer - 1}) == [made[2]]
    assert await ids(**{"from": older + 1, "to": newer - 1}) == []
    # from alone: up to now, as far back as asked.
    assert await ids(**{"from": ms(times[made[0]])}) == list(reversed(made))
    # to alone: the year before it.
    assert await ids(to=ms(times[made[2]])) == [made[2], made[1]]
    # The window and the cursor together.
    assert await ids(**{"from": ms(times[made[1]]), "transactionId": made[4], "limit": 2}) == [
        made[3],
        made[2],
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, history.BAD_LIMIT),
        ({"limit": "151"}, history.BAD_LIMIT),
        ({"limit": "-1"}, history.BAD_LIMIT),
        ({"limit": "1.5"}, history.BAD_LIMIT),
        ({"limit": "ten"}, history.BAD_LIMIT),
        ({"from": "yesterday"}, "from must be a time in epoch milliseconds"),
        ({"from": "1.5"}, "from must be a time in epoch milliseconds"),
        ({"to": "-1000"}, "to must be a time in epoch milliseconds"),
        ({"to": "99999999999999999"}, "to must be a time in epoch milliseconds"),
        ({"from": "1700000000001", "to": "1700000000000"}, history.BAD_WINDOW),
    ],
)
async def test_bad_parameters(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    programme: Programme,
    params: dict[str, str],
    message: str,
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    refused(await get(app_client, programme, correlation_id, **params), message)


async def test_limit_bounds(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    await moves(runtime, programme, member.id, 151)
    correlation_id = await open_session(app_client, programme.headers, member)

    most = (await get(app_client, programme, correlation_id, limit=150)).json()
    assert len(most["transactions"]) == 150
    assert most["nextTransactionId"] == most["transactions"][-1]["transactionId"]
    one = (await get(app_client, programme, correlation_id, limit=1)).json()
    assert len(one["transactions"]) == 1
    assert one["transactions"][0] == most["transactions"][0]
    # Blank parameters are absent ones.
    blank = await get(app_client, programme, correlation_id, limit="", transactionId="")
    assert len(blank.json()["transactions"]) == 30


# --- Sessions --------------------------------------------------------------------------------


async def test_unknown_expired_or_another_clients_session(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    await moves(runtime, programme, member.id, 2)
    correlation_id = await open_session(app_client, programme.headers, member)
    other = await make_programme(app_client, runtime)

    refused(await get(app_client, programme, "no-such-session"), NOT_FOUND)
    # The same correlation id, asked by another client, names nothing of its own.
    refused(await get(app_client, other, correlation_id), NOT_FOUND)
    assert (await get(app_client, programme, correlation_id)).status_code == 200

    async with runtime.db.write_session() as session:
        await session.execute(
            update(LoyaltySession)
            .where(LoyaltySession.correlation_id == correlation_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    refused(await get(app_client, programme, correlation_id), NOT_FOUND)


async def test_bad_parameters_are_refused_before_the_session(
    app_client: httpx.AsyncClient, programme: Programme
) -> None:
    refused(await get(app_client, programme, "no-such-session", limit=0), history.BAD_LIMIT)


async def test_token_and_scope(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await app_client.get(path("x"))).status_code == 401
    without = await make_programme(app_client, runtime, scopes=("read_vouchers",))
    response = await app_client.get(path("x"), headers=without.headers)
    assert response.status_code == 403
    assert response.json()["errorCode"] == "FORBIDDEN"


# --- The service -----------------------------------------------------------------------------


def test_parse_query_defaults() -> None:
    now = datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)
    query = history.parse_query(limit=None, transaction_id=None, since=None, until=None, now=now)
    assert query == history.HistoryQuery(
        30, None, now - timedelta(days=365), now + timedelta(milliseconds=1)
    )
    epoch = history.parse_query(limit="7", transaction_id=" ptx_1 ", since="0", until="1", now=now)
    assert epoch.limit == 7
    assert epoch.cursor == "ptx_1"
    assert epoch.since == datetime(1970, 1, 1, tzinfo=UTC)
    assert epoch.until == datetime(1970, 1, 1, 0, 0, 0, 2000, tzinfo=UTC)
