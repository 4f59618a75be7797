"""Operator API bulk enrollment: 10,000 players through the real in-process worker (players
enrolled earlier and duplicates counted as existing, one event per new enrollment), each
validation rule, and a bulk enrollment whose reward is cancelled before the worker runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.models import OperatorEnrollment, OutboxEvent
from tests.operator.helpers import (
    RANGED,
    RANGED_VALUE,
    Operator,
    bulk_reward,
    call,
    campaign,
    create,
    enrol,
    listed,
    make_operator,
    post_bulk,
    wait_bulk,
)
from tests.surfaces.partner.helpers import worker_client

ACCEPTED = "Accepted: the players are enrolled by the worker; follow the bulk enrollment's status"
PLAYERS = (
    "operatorPlayerIds must be an array of 1 to 10000 strings, each non-empty and at most "
    "200 characters"
)
PLAYER_AT = "operatorPlayerIds[{}] must be a non-empty string of at most 200 characters"


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def count_rows(runtime: Runtime, *where: Any) -> int:
    async with runtime.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(OperatorEnrollment).where(*where)
        )
    return int(count or 0)


async def test_bulk_ten_thousand(settings: Settings, runtime: Runtime, operator: Operator) -> None:
    async with worker_client(settings) as http:
        found = await bulk_reward(http, operator)
        rid = found["id"]
        earlier = {p: await enrol(http, operator, rid, p) for p in ("p-0", "p-1", "p-2")}
        distinct = [f"p-{n}" for n in range(9995)]
        # Duplicates across chunks and side by side; two padded ids read as their trimmed form.
        players = [*distinct, "p-10", "p-2500", " p-9000 ", "p-9994", "p-9994"]
        assert len(players) == 10_000
        response = await post_bulk(
            http, operator, rid, {"operatorPlayerIds": players, "createdBy": " ops@x.com "}
        )
        assert response.status_code == 202, response.text
        envelope = response.json()
        assert envelope["message"] == ACCEPTED and envelope["responseCode"] == "OK"
        accepted = envelope["data"]
        assert accepted["rewardId"] == rid
        assert accepted["status"] == "Pending"
        assert accepted["totalCount"] == 10_000
        assert (accepted["processedCount"], accepted["enrolledCount"]) == (0, 0)
        assert (accepted["existingCount"], accepted["failedCount"]) == (0, 0)
        assert (accepted["betValue"], accepted["betCount"]) == (1.5, 10)
        assert accepted["createdBy"] == "ops@x.com"
        assert accepted["error"] is None
        assert accepted["startedAtUtc"] is None and accepted["completedAtUtc"] is None

        done = await wait_bulk(http, operator, rid, accepted["id"])
        assert done["status"] == "Completed", done
        assert done["processedCount"] == 10_000
        assert done["enrolledCount"] == 9995 - 3
        assert done["existingCount"] == 3 + 5
        assert done["enrolledCount"] + done["existingCount"] == 10_000
        assert done["failedCount"] == 0 and done["error"] is None
        assert done["startedAtUtc"] is not None and done["completedAtUtc"] is not None

        assert await count_rows(runtime, OperatorEnrollment.reward_id == rid) == len(distinct)
        made = await count_rows(runtime, OperatorEnrollment.batch_id == accepted["id"])
        assert made == 9995 - 3
        async with runtime.db.session() as session:
            enrolled = (
                await session.execute(
                    select(func.count(), func.count(func.distinct(OutboxEvent.subject_id))).where(
                        OutboxEvent.client_id == operator.client_id,
                        OutboxEvent.type == "freebets.enrolled",
                    )
                )
            ).one()
        assert tuple(enrolled) == (9995, 9995)  # the 3 enrolled one by one and the 9,992 new

        # The players enrolled earlier keep their enrollment; a new one is New with the bets.
        url = "/v1/enrollments?operatorPlayerId=p-1"
        response = await call(http, operator, "GET", url)
        assert response.json()["data"] == [earlier["p-1"]]
        response = await call(http, operator, "GET", "/v1/enrollments?operatorPlayerId=p-9000")
        [late] = response.json()["data"]
        assert (late["status"], late["rewardId"], late["totalBetCount"]) == ("New", rid, 10)
        # Its event carries the enrollment as the API answers it (built from the chunk's template).
        async with runtime.db.session() as session:
            payload = await session.scalar(
                select(OutboxEvent.payload).where(
                    OutboxEvent.type == "freebets.enrolled", OutboxEvent.subject_id == late["id"]
                )
            )
        assert payload is not None and payload["data"] == late
        page = f"/v1/rewards/{rid}/enrollments?status=New&page=10&pageSize=1000"
        assert len(await listed(http, operator, page)) == 995


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, PLAYERS),
        ({"operatorPlayerIds": None}, PLAYERS),
        ({"operatorPlayerIds": "p-1"}, PLAYERS),
        ({"operatorPlayerIds": []}, PLAYERS),
        ({"operatorPlayerIds": [f"p-{n}" for n in range(10_001)]}, PLAYERS),
        ({"operatorPlayerIds": ["a", 5]}, PLAYER_AT.format(1)),
        ({"operatorPlayerIds": ["a", "b", None]}, PLAYER_AT.format(2)),
        ({"operatorPlayerIds": [" "]}, PLAYER_AT.format(0)),
        ({"operatorPlayerIds": ["a", "x" * 201]}, PLAYER_AT.format(1)),
        (
            {"operatorPlayerIds": ["a"], "betValue": 2},
            "betValue must be 1.50 for this Fixed reward (or omitted)",
        ),
        ({"operatorPlayerIds": ["a"], "createdBy": 5}, "createdBy must be a string"),
        ({"operatorPlayerIds": ["a"], "betValue": 1e308}, "betValue must be at most 1000000000"),
        ({"operatorPlayerIds": ["a"], "betValue": 1e28}, "betValue must be at most 1000000000"),
    ],
    ids=[
        "missing",
        "null",
        "string",
        "empty",
        "10001",
        "number-at-1",
        "null-at-2",
        "blank-at-0",
        "too-long-at-1",
        "fixed-mismatch",
        "created-by",
        "bet-value-1e308",
        "bet-value-1e28",
    ],
)
async def test_bulk_validation(
    app_client: httpx.AsyncClient, operator: Operator, body: dict[str, Any], message: str
) -> None:
    found = await bulk_reward(app_client, operator)
    response = await post_bulk(app_client, operator, found["id"], body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message, "data": {}, "responseCode": "ValidationError"}


async def test_bulk_ranged(app_client: httpx.AsyncClient, operator: Operator) -> None:
    found = await bulk_reward(app_client, operator, freeBetDetails=RANGED)
    response = await post_bulk(app_client, operator, found["id"], {"operatorPlayerIds": ["a"]})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == RANGED_VALUE
    body = {"operatorPlayerIds": ["a"], "betValue": 0.5, "betCount": 4}
    response = await post_bulk(app_client, operator, found["id"], body)
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    assert (data["betValue"], data["betCount"], data["createdBy"]) == (0.5, 4, None)


async def test_bulk_into_a_reward_not_enrollable(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    campaign_id = await campaign(app_client, operator)
    found = await create(app_client, operator, campaign_id)
    url = f"/v1/rewards/{found['id']}/cancel"
    assert (await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.c"})).is_success
    response = await post_bulk(app_client, operator, found["id"], {"operatorPlayerIds": ["a"]})
    assert response.status_code == 409, response.text
    assert "Cancelled" in response.json()["message"]
    response = await post_bulk(app_client, operator, "orw_missing", {"operatorPlayerIds": ["a"]})
    assert response.status_code == 404, response.text
    url = f"/v1/rewards/{found['id']}/enrollments/bulk/oeb_missing"
    assert (await call(app_client, operator, "GET", url)).status_code == 404


async def test_reward_cancelled_before_the_worker_runs(
    settings: Settings, runtime: Runtime, app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await bulk_reward(app_client, operator)
    rid = found["id"]
    players = {"operatorPlayerIds": ["a", "b", "c"]}
    response = await post_bulk(app_client, operator, rid, players)
    assert response.status_code == 202, response.text
    bulk_id = response.json()["data"]["id"]
    url = f"/v1/rewards/{rid}/cancel"
    assert (await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.c"})).is_success
    async with worker_client(settings) as http:
        done = await wait_bulk(http, operator, rid, bulk_id)
    assert done["status"] == "Completed", done
    assert (done["processedCount"], done["failedCount"]) == (3, 3)
    assert (done["enrolledCount"], done["existingCount"]) == (0, 0)
    assert done["error"] is not None and "Cancelled" in done["error"]
    assert await count_rows(runtime, OperatorEnrollment.reward_id == rid) == 0
