"""Operator API enrollments: enrolling a player (every field of the answer), each validation
rule with its message, tenancy, listing with paging and status, free bets (New -> Active ->
Completed, repeats of a betId, conflicts), cancelling an enrollment, and concurrent bets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from tests.operator.helpers import (
    FIXED,
    RANGED,
    RANGED_VALUE,
    Operator,
    at,
    bet,
    call,
    campaign,
    create,
    enrol,
    get,
    iso,
    listed,
    make_operator,
    now,
    reward,
    set_clock,
)

FIELDS = {
    "rewardType",
    "id",
    "operatorId",
    "rewardId",
    "campaignId",
    "campaignOperatorReference",
    "rewardOperatorReference",
    "operatorPlayerId",
    "products",
    "status",
    "startTimeUtc",
    "endTimeUtc",
    "betValue",
    "currencyIsoCode",
    "totalBetCount",
    "remainingBetCount",
    "creditWalletType",
    "stakeNotReturned",
    "createdAtUtc",
    "updatedAtUtc",
    "completedAtUtc",
    "cancelledAtUtc",
    "cancelledBy",
}
BET_FIELDS = {
    "id",
    "betId",
    "enrollmentId",
    "rewardId",
    "operatorPlayerId",
    "product",
    "betValue",
    "remainingBetCount",
    "enrollmentStatus",
    "placedAtUtc",
}
PLAYER_REQUIRED = "operatorPlayerId is required and cannot be empty or whitespace"
STATUS = "status must be one of New, Active, Completed, Expired, Cancelled"
PLAYER_FILTER = "operatorPlayerId is required to list enrollments across rewards"
RANGED_COUNT = "betCount is required for a Ranged reward and must be from 1 to 20"


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def test_enrol_fixed(app_client: httpx.AsyncClient, operator: Operator) -> None:
    moment = now()
    set_clock(app_client, moment)
    found = await reward(app_client, operator)
    data = await enrol(app_client, operator, found["id"], " player-1 ")
    assert set(data) == FIELDS
    assert data["id"].startswith("oen")
    assert data["rewardType"] == "FreeBets"
    assert data["operatorId"] == operator.operator_id
    assert data["rewardId"] == found["id"]
    assert data["campaignId"] == found["campaignId"]
    assert data["campaignOperatorReference"] == "CMP-REF"
    assert data["rewardOperatorReference"] == "OP-FB-1"
    assert data["operatorPlayerId"] == "player-1"
    assert data["products"] == ["starburst", "book-of-dead"]
    assert data["status"] == "New"
    assert data["startTimeUtc"] == found["startTimeUtc"]
    assert data["endTimeUtc"] == found["endTimeUtc"]
    assert data["betValue"] == 1.5
    assert data["currencyIsoCode"] == "EUR"
    assert data["totalBetCount"] == 10
    assert data["remainingBetCount"] == 10
    assert data["creditWalletType"] == "FreeBet"
    assert data["stakeNotReturned"] is True
    assert data["createdAtUtc"] == iso(moment)
    assert data["updatedAtUtc"] is None
    assert data["completedAtUtc"] is None
    assert data["cancelledAtUtc"] is None
    assert data["cancelledBy"] is None
    assert await get(app_client, operator, data["id"]) == data
    url = f"/v1/rewards/{found['id']}/enrollments"
    assert (await call(app_client, operator, "GET", url)).json()["data"] == [data]
    url = "/v1/enrollments?operatorPlayerId=player-1"
    assert (await call(app_client, operator, "GET", url)).json()["data"] == [data]
    # Enrolling again answers the same enrollment, with or without the Fixed reward's own bets.
    set_clock(app_client, moment + timedelta(minutes=5))
    assert await enrol(app_client, operator, found["id"], "player-1") == data
    again = await enrol(app_client, operator, found["id"], "player-1", betValue=1.5, betCount=10)
    assert again == data
    url = f"/v1/rewards/{found['id']}/enrollments"
    assert len((await call(app_client, operator, "GET", url)).json()["data"]) == 1


async def test_enrol_ranged_and_matching_fixed(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    ranged = await reward(app_client, operator, freeBetDetails=RANGED)
    data = await enrol(app_client, operator, ranged["id"], "p", betValue="1.25", betCount=5)
    assert data["betValue"] == 1.25
    assert (data["totalBetCount"], data["remainingBetCount"]) == (5, 5)
    assert data["currencyIsoCode"] == "GBP"
    assert data["creditWalletType"] == "Cash"
    assert data["stakeNotReturned"] is False
    # The bounds of the ranges are allowed.
    low = await enrol(app_client, operator, ranged["id"], "low", betValue=0.1, betCount=1)
    assert (low["betValue"], low["totalBetCount"]) == (0.1, 1)
    high = await enrol(app_client, operator, ranged["id"], "high", betValue=2, betCount=20)
    assert (high["betValue"], high["totalBetCount"]) == (2, 20)
    fixed = await reward(app_client, operator)
    data = await enrol(app_client, operator, fixed["id"], "p", betValue="1.50", betCount=10)
    assert (data["betValue"], data["totalBetCount"]) == (1.5, 10)
    # The same player in two rewards: two enrollments.
    url = "/v1/enrollments?operatorPlayerId=p"
    got = (await call(app_client, operator, "GET", url)).json()["data"]
    assert [e["rewardId"] for e in got] == [ranged["id"], fixed["id"]]


@pytest.mark.parametrize(
    ("details", "body", "message"),
    [
        (FIXED, {}, PLAYER_REQUIRED),
        (FIXED, {"operatorPlayerId": None}, PLAYER_REQUIRED),
        (FIXED, {"operatorPlayerId": ""}, PLAYER_REQUIRED),
        (FIXED, {"operatorPlayerId": "   "}, PLAYER_REQUIRED),
        (FIXED, {"operatorPlayerId": 5}, "operatorPlayerId must be a string"),
        (
            FIXED,
            {"operatorPlayerId": "x" * 201},
            "operatorPlayerId must be at most 200 characters",
        ),
        (
            FIXED,
            {"operatorPlayerId": "p", "betValue": 2},
            "betValue must be 1.50 for this Fixed reward (or omitted)",
        ),
        (
            FIXED,
            {"operatorPlayerId": "p", "betCount": 9},
            "betCount must be 10 for this Fixed reward (or omitted)",
        ),
        (RANGED, {"operatorPlayerId": "p", "betCount": 5}, RANGED_VALUE),
        (RANGED, {"operatorPlayerId": "p", "betValue": 0.09, "betCount": 5}, RANGED_VALUE),
        (RANGED, {"operatorPlayerId": "p", "betValue": 2.01, "betCount": 5}, RANGED_VALUE),
        (RANGED, {"operatorPlayerId": "p", "betValue": 1}, RANGED_COUNT),
        (RANGED, {"operatorPlayerId": "p", "betValue": 1, "betCount": 21}, RANGED_COUNT),
    ],
)
async def test_enrol_validation(
    app_client: httpx.AsyncClient,
    operator: Operator,
    details: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    found = await reward(app_client, operator, freeBetDetails=details)
    url = f"/v1/rewards/{found['id']}/enrollments"
    response = await call(app_client, operator, "POST", url, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message, "data": {}, "responseCode": "ValidationError"}
    assert (await call(app_client, operator, "GET", url)).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"betValue": "abc", "betCount": 5},
            "betValue must be a number greater than 0 with at most 2 decimal places",
        ),
        ({"betValue": 1, "betCount": 1.5}, "betCount must be an integer from 1 to 1000000"),
        ({"betValue": 1e308, "betCount": 5}, "betValue must be at most 1000000000"),
        ({"betValue": 1e28, "betCount": 5}, "betValue must be at most 1000000000"),
        ({"betValue": 1, "betCount": 5, "betcount": 6}, "betcount is not a known field"),
    ],
)
async def test_enrol_malformed_bets_name_the_field(
    app_client: httpx.AsyncClient, operator: Operator, body: dict[str, Any], message: str
) -> None:
    """The enrollment's own fields are named as sent, not as the reward's freeBetDetails."""
    found = await reward(app_client, operator, freeBetDetails=RANGED)
    url = f"/v1/rewards/{found['id']}/enrollments"
    response = await call(app_client, operator, "POST", url, {"operatorPlayerId": "p", **body})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == message


async def test_listing_filters_validated(app_client: httpx.AsyncClient, operator: Operator) -> None:
    found = await reward(app_client, operator)
    for url in (
        f"/v1/rewards/{found['id']}/enrollments?status=Bogus",
        f"/v1/rewards/{found['id']}/enrollments?status=new",
        "/v1/enrollments?operatorPlayerId=p&status=Bogus",
    ):
        response = await call(app_client, operator, "GET", url)
        assert response.status_code == 400, (url, response.text)
        assert response.json() == {
            "message": STATUS,
            "data": {},
            "responseCode": "ValidationError",
        }
    for url in (
        "/v1/enrollments",
        "/v1/enrollments?operatorPlayerId=",
        "/v1/enrollments?status=New",
    ):
        response = await call(app_client, operator, "GET", url)
        assert response.status_code == 400, (url, response.text)
        assert response.json() == {
            "message": PLAYER_FILTER,
            "data": {},
            "responseCode": "ValidationError",
        }


async def test_reward_must_be_scheduled_or_active(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    campaign_id = await campaign(app_client, operator)
    cancelled = await create(app_client, operator, campaign_id)
    url = f"/v1/rewards/{cancelled['id']}/cancel"
    assert (await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.c"})).is_success
    ended = await create(app_client, operator, campaign_id, startTimeUtc=at(-2), endTimeUtc=at(-1))
    for found, word in ((cancelled, "Cancelled"), (ended, "Ended")):
        url = f"/v1/rewards/{found['id']}/enrollments"
        response = await call(app_client, operator, "POST", url, {"operatorPlayerId": "p"})
        assert response.status_code == 409, response.text
        assert response.json()["responseCode"] == "Conflict"
        assert response.json()["data"] == {}
        assert word in response.json()["message"]
        assert (await call(app_client, operator, "GET", url)).json()["data"] == []
    scheduled = await create(app_client, operator, campaign_id, startTimeUtc=at(1))
    data = await enrol(app_client, operator, scheduled["id"], "p")
    assert data["status"] == "New"


async def test_another_operators_reward_and_enrollment(
    app_client: httpx.AsyncClient, operator: Operator, runtime: Runtime
) -> None:
    other = await make_operator(runtime)
    found = await reward(app_client, operator)
    enrollment = await enrol(app_client, operator, found["id"], "p")
    url = f"/v1/rewards/{found['id']}/enrollments/bulk"
    batch = await call(app_client, operator, "POST", url, {"operatorPlayerIds": ["q"]})
    assert batch.status_code == 202, batch.text
    bulk_id = batch.json()["data"]["id"]
    rid, eid = found["id"], enrollment["id"]
    routes = [
        ("POST", f"/v1/rewards/{rid}/enrollments", {"operatorPlayerId": "x"}),
        ("GET", f"/v1/rewards/{rid}/enrollments", None),
        ("GET", f"/v1/rewards/{rid}/enrollments?operatorPlayerId=p", None),
        ("POST", f"/v1/rewards/{rid}/enrollments/bulk", {"operatorPlayerIds": ["x"]}),
        ("GET", f"/v1/rewards/{rid}/enrollments/bulk/{bulk_id}", None),
        ("GET", f"/v1/enrollments/{eid}", None),
        ("POST", f"/v1/enrollments/{eid}/cancel", {"cancelledBy": "x@y.z"}),
        ("POST", f"/v1/enrollments/{eid}/bets", {"betId": "b1", "product": "starburst"}),
        ("GET", f"/v1/enrollments/{eid}/bets", None),
        ("GET", "/v1/rewards/orw_missing/enrollments", None),
        ("POST", "/v1/rewards/orw_missing/enrollments", {"operatorPlayerId": "x"}),
        ("GET", "/v1/enrollments/oen_missing", None),
        ("POST", "/v1/enrollments/oen_missing/bets", {"betId": "b1", "product": "starburst"}),
    ]
    for method, url, body in routes:
        response = await call(app_client, other, method, url, body)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["responseCode"] == "NotFound"
        assert response.json()["data"] == {}
    # Another reward's bulk id under this reward is not found either.
    second = await reward(app_client, operator)
    url = f"/v1/rewards/{second['id']}/enrollments/bulk/{bulk_id}"
    assert (await call(app_client, operator, "GET", url)).status_code == 404
    # The player's enrollments across rewards are the operator's own.
    response = await call(app_client, other, "GET", "/v1/enrollments?operatorPlayerId=p")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    # Nothing changed for the owner.
    assert await get(app_client, operator, eid) == enrollment
    url = f"/v1/rewards/{rid}/enrollments"
    assert await listed(app_client, operator, url) == ["p"]
    assert (await call(app_client, operator, "GET", f"/v1/enrollments/{eid}/bets")).json()[
        "data"
    ] == []


async def test_listing_paging_and_status(app_client: httpx.AsyncClient, operator: Operator) -> None:
    start = now()
    found = await reward(app_client, operator, freeBetDetails={**FIXED, "betCount": 2})
    ids = {}
    for n in range(5):
        set_clock(app_client, start + timedelta(seconds=n))
        ids[f"p{n}"] = (await enrol(app_client, operator, found["id"], f"p{n}"))["id"]
    set_clock(app_client, start + timedelta(minutes=1))
    assert (await bet(app_client, operator, ids["p1"], "b1")).status_code == 200
    assert (await bet(app_client, operator, ids["p2"], "b1")).status_code == 200
    assert (await bet(app_client, operator, ids["p2"], "b2")).status_code == 200
    url = f"/v1/enrollments/{ids['p3']}/cancel"
    assert (await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.c"})).is_success
    base = f"/v1/rewards/{found['id']}/enrollments"
    assert await listed(app_client, operator, base) == ["p0", "p1", "p2", "p3", "p4"]
    pages = [
        await listed(app_client, operator, f"{base}?page={page}&pageSize=2")
        for page in (1, 2, 3, 4)
    ]
    assert pages == [["p0", "p1"], ["p2", "p3"], ["p4"], []]
    expected = {
        "New": ["p0", "p4"],
        "Active": ["p1"],
        "Completed": ["p2"],
        "Cancelled": ["p3"],
        "Expired": [],
    }
    for status, players in expected.items():
        assert await listed(app_client, operator, f"{base}?status={status}") == players
    assert await listed(app_client, operator, f"{base}?status=New&page=2&pageSize=1") == ["p4"]
    assert await listed(app_client, operator, f"{base}?operatorPlayerId=p1") == ["p1"]
    assert await listed(app_client, operator, f"{base}?operatorPlayerId=p1&status=New") == []
    assert await listed(app_client, operator, f"{base}?operatorPlayerId=nobody") == []
    for url in (f"{base}?page=0", f"{base}?pageSize=0", f"{base}?pageSize=1001"):
        response = await call(app_client, operator, "GET", url)
        assert response.status_code in (400, 422), (url, response.text)
    # Across rewards: the player's enrollments only, with the status filter.
    other = await reward(app_client, operator)
    await enrol(app_client, operator, other["id"], "p1")
    players = "/v1/enrollments?operatorPlayerId=p1"
    response = await call(app_client, operator, "GET", players)
    assert [e["rewardId"] for e in response.json()["data"]] == [found["id"], other["id"]]
    response = await call(app_client, operator, "GET", players + "&status=Active")
    assert [e["rewardId"] for e in response.json()["data"]] == [found["id"]]
    response = await call(app_client, operator, "GET", players + "&page=2&pageSize=1")
    assert [e["rewardId"] for e in response.json()["data"]] == [other["id"]]


async def test_bets(app_client: httpx.AsyncClient, operator: Operator) -> None:
    start = now()
    set_clock(app_client, start)
    found = await reward(app_client, operator, freeBetDetails={**FIXED, "betCount": 3})
    enrollment = await enrol(app_client, operator, found["id"], "player")
    eid = enrollment["id"]
    first_at = start + timedelta(seconds=10)
    set_clock(app_client, first_at)
    response = await bet(app_client, operator, eid, " b1 ")
    assert response.status_code == 200, response.text
    first = response.json()["data"]
    assert set(first) == BET_FIELDS
    assert first["betId"] == "b1"
    assert first["enrollmentId"] == eid
    assert first["rewardId"] == found["id"]
    assert first["operatorPlayerId"] == "player"
    assert first["product"] == "starburst"
    assert first["betValue"] == 1.5
    assert first["remainingBetCount"] == 2
    assert first["enrollmentStatus"] == "Active"
    assert first["placedAtUtc"] == iso(first_at)
    data = await get(app_client, operator, eid)
    assert (data["status"], data["remainingBetCount"]) == ("Active", 2)
    assert data["updatedAtUtc"] == iso(first_at)
    assert data["completedAtUtc"] is None
    # A repeat of the betId answers the first call and uses nothing.
    set_clock(app_client, start + timedelta(seconds=20))
    repeat = await bet(app_client, operator, eid, "b1")
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["data"] == first
    assert (await get(app_client, operator, eid))["remainingBetCount"] == 2
    # The same betId on another product is a conflict; a product not in the reward is invalid.
    other = await bet(app_client, operator, eid, "b1", "book-of-dead")
    assert other.status_code == 409, other.text
    assert other.json()["responseCode"] == "Conflict"
    assert "b1" in other.json()["message"]
    wrong = await bet(app_client, operator, eid, "b9", "roulette")
    assert wrong.status_code == 400, wrong.text
    assert wrong.json() == {
        "message": "product roulette is not one of the reward's products",
        "data": {},
        "responseCode": "ValidationError",
    }
    for body, message in (
        ({"product": "starburst"}, "betId is required and cannot be empty or whitespace"),
        (
            {"betId": " ", "product": "starburst"},
            "betId is required and cannot be empty or whitespace",
        ),
        ({"betId": "b9"}, "product is required and cannot be empty or whitespace"),
    ):
        url = f"/v1/enrollments/{eid}/bets"
        response = await call(app_client, operator, "POST", url, body)
        assert response.status_code == 400, response.text
        assert response.json()["message"] == message
    assert (await get(app_client, operator, eid))["remainingBetCount"] == 2
    set_clock(app_client, start + timedelta(seconds=30))
    second = (await bet(app_client, operator, eid, "b2", "book-of-dead")).json()["data"]
    assert (second["remainingBetCount"], second["enrollmentStatus"]) == (1, "Active")
    last_at = start + timedelta(seconds=40)
    set_clock(app_client, last_at)
    response = await bet(app_client, operator, eid, "b3")
    assert response.status_code == 200, response.text
    last = response.json()["data"]
    assert (last["remainingBetCount"], last["enrollmentStatus"]) == (0, "Completed")
    data = await get(app_client, operator, eid)
    assert (data["status"], data["remainingBetCount"]) == ("Completed", 0)
    assert data["completedAtUtc"] == iso(last_at)
    assert data["updatedAtUtc"] == iso(last_at)
    # Completed: no bet left; repeats still answer what they answered.
    set_clock(app_client, start + timedelta(seconds=50))
    response = await bet(app_client, operator, eid, "b4")
    assert response.status_code == 409, response.text
    assert "Completed" in response.json()["message"]
    assert (await bet(app_client, operator, eid, "b1")).json()["data"] == first
    assert (await bet(app_client, operator, eid, "b3")).json()["data"] == last
    response = await call(app_client, operator, "GET", f"/v1/enrollments/{eid}/bets")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == [first, second, last]
    # A betId is per enrollment: another player's enrollment may use b1 too.
    another = await enrol(app_client, operator, found["id"], "another")
    response = await bet(app_client, operator, another["id"], "b1")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["remainingBetCount"] == 2
    assert response.json()["data"]["id"] != first["id"]


async def test_bet_before_start(app_client: httpx.AsyncClient, operator: Operator) -> None:
    found = await reward(app_client, operator, startTimeUtc=at(1))
    enrollment = await enrol(app_client, operator, found["id"], "early")
    assert enrollment["status"] == "New"
    response = await bet(app_client, operator, enrollment["id"], "b1")
    assert response.status_code == 409, response.text
    assert response.json()["responseCode"] == "Conflict"
    assert found["startTimeUtc"] in response.json()["message"]
    data = await get(app_client, operator, enrollment["id"])
    assert (data["status"], data["remainingBetCount"]) == ("New", 10)
    # Once it starts, the bet is taken.
    set_clock(app_client, datetime.now(UTC) + timedelta(days=2))
    response = await bet(app_client, operator, enrollment["id"], "b1")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["remainingBetCount"] == 9


async def test_cancel_enrollment(app_client: httpx.AsyncClient, operator: Operator) -> None:
    moment = now()
    set_clock(app_client, moment)
    found = await reward(app_client, operator, freeBetDetails={**FIXED, "betCount": 2})
    enrollment = await enrol(app_client, operator, found["id"], "p")
    eid = enrollment["id"]
    assert (await bet(app_client, operator, eid, "b1")).status_code == 200
    url = f"/v1/enrollments/{eid}/cancel"
    for body in ({}, {"cancelledBy": "  "}, {"cancelledBy": None}):
        response = await call(app_client, operator, "POST", url, body)
        assert response.status_code == 400, response.text
        assert response.json()["message"] == (
            "cancelledBy is required and cannot be empty or whitespace"
        )
    cancelled_at = moment + timedelta(seconds=5)
    set_clock(app_client, cancelled_at)
    response = await call(app_client, operator, "POST", url, {"cancelledBy": " ops@x.com "})
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "OK", "data": {}, "responseCode": "OK"}
    data = await get(app_client, operator, eid)
    assert data["status"] == "Cancelled"
    assert data["cancelledBy"] == "ops@x.com"
    assert data["cancelledAtUtc"] == iso(cancelled_at)
    assert data["remainingBetCount"] == 1
    response = await bet(app_client, operator, eid, "b2")
    assert response.status_code == 409, response.text
    assert "Cancelled" in response.json()["message"]
    # A repeat of the bet used before the cancel still answers it.
    assert (await bet(app_client, operator, eid, "b1")).status_code == 200
    again = await call(app_client, operator, "POST", url, {"cancelledBy": "ops@x.com"})
    assert again.status_code == 409, again.text
    assert "Cancelled" in again.json()["message"]
    assert (await get(app_client, operator, eid))["cancelledAtUtc"] == iso(cancelled_at)
    # A Completed enrollment cannot be cancelled.
    done = await enrol(app_client, operator, found["id"], "done")
    for bet_id in ("c1", "c2"):
        assert (await bet(app_client, operator, done["id"], bet_id)).status_code == 200
    url = f"/v1/enrollments/{done['id']}/cancel"
    response = await call(app_client, operator, "POST", url, {"cancelledBy": "ops@x.com"})
    assert response.status_code == 409, response.text
    assert "Completed" in response.json()["message"]
    assert (await get(app_client, operator, done["id"]))["status"] == "Completed"
    # Cancelling an enrollment leaves the reward, and enrolling the player again answers it.
    got = await call(app_client, operator, "GET", f"/v1/rewards/{found['id']}")
    assert got.json()["data"]["status"] == "Active"
    assert (await enrol(app_client, operator, found["id"], "p"))["status"] == "Cancelled"


async def test_concurrent_bets(app_client: httpx.AsyncClient, operator: Operator) -> None:
    found = await reward(app_client, operator, freeBetDetails={**FIXED, "betCount": 5})
    enrollment = await enrol(app_client, operator, found["id"], "racer")
    eid = enrollment["id"]
    responses = await asyncio.gather(
        *(bet(app_client, operator, eid, f"bet-{n}") for n in range(20))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [409] * 15, [r.text for r in responses if r.status_code >= 500]
    remaining = sorted(r.json()["data"]["remainingBetCount"] for r in responses if r.is_success)
    assert remaining == [0, 1, 2, 3, 4]
    data = await get(app_client, operator, eid)
    assert (data["status"], data["remainingBetCount"]) == ("Completed", 0)
    bets = (await call(app_client, operator, "GET", f"/v1/enrollments/{eid}/bets")).json()["data"]
    won = {r.json()["data"]["betId"] for r in responses if r.is_success}
    assert {b["betId"] for b in bets} == won and len(bets) == 5
    # Ten concurrent repeats of one betId: one bet, the same answer for all.
    repeated = await enrol(app_client, operator, found["id"], "repeater")
    rid = repeated["id"]
    responses = await asyncio.gather(*(bet(app_client, operator, rid, "same") for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    answers = [r.json()["data"] for r in responses]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["remainingBetCount"] == 4
    bets = (await call(app_client, operator, "GET", f"/v1/enrollments/{rid}/bets")).json()["data"]
    assert len(bets) == 1
    data = await get(app_client, operator, rid)
    assert (data["status"], data["remainingBetCount"]) == ("Active", 4)


async def test_concurrent_enrollments_of_one_player(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await reward(app_client, operator)
    answers = await asyncio.gather(
        *(enrol(app_client, operator, found["id"], "twin") for _ in range(10))
    )
    assert len({answer["id"] for answer in answers}) == 1
    url = f"/v1/rewards/{found['id']}/enrollments"
    assert await listed(app_client, operator, url) == ["twin"]
