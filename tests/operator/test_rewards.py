"""Operator API rewards: Fixed and Ranged creation, each validation rule with its message, the
campaign's window, tenancy, cancel rules and the cascade from cancelling the campaign."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from tests.operator.helpers import (
    FIXED,
    RANGED,
    Operator,
    at,
    call,
    campaign,
    create,
    make_operator,
    reward_body,
)

FIELDS = {
    "id",
    "campaignId",
    "operatorId",
    "rewardType",
    "name",
    "description",
    "operatorReference",
    "products",
    "startTimeUtc",
    "endTimeUtc",
    "status",
    "freeBetDetails",
    "createdAtUtc",
    "createdBy",
    "updatedAtUtc",
    "updatedBy",
    "cancelledAtUtc",
    "cancelledBy",
}


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def test_create_fixed(app_client: httpx.AsyncClient, operator: Operator) -> None:
    body = reward_body(startTimeUtc="2030-01-01T00:00:00Z", endTimeUtc="2030-01-08T00:00:00Z")
    body["products"] = [" starburst ", "book-of-dead"]
    start = "2029-12-01T00:00:00Z"
    campaign_id = await campaign(app_client, operator, startTimeUtc=start, endTimeUtc=None)
    url = f"/v1/campaigns/{campaign_id}/rewards"
    response = await call(app_client, operator, "POST", url, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == FIELDS
    assert data["campaignId"] == campaign_id
    assert data["operatorId"] == operator.operator_id
    assert data["rewardType"] == "FreeBets"
    assert data["name"] == "Ten free spins"
    assert data["description"] == "Welcome free bets"
    assert data["operatorReference"] == "OP-FB-1"
    assert data["products"] == ["starburst", "book-of-dead"]
    assert data["startTimeUtc"] == "2030-01-01T00:00:00Z"
    assert data["endTimeUtc"] == "2030-01-08T00:00:00Z"
    assert data["status"] == "Scheduled"
    assert data["freeBetDetails"] == {
        **FIXED,
        "creditWalletType": "FreeBet",
        "stakeNotReturned": True,
    }
    assert data["createdBy"] == "ops@example.com"
    assert data["createdAtUtc"].endswith("Z")
    assert data["cancelledAtUtc"] is None and data["cancelledBy"] is None
    got = await call(app_client, operator, "GET", f"/v1/rewards/{data['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == {"message": "OK", "data": data, "responseCode": "OK"}
    listed = await call(app_client, operator, "GET", url)
    assert listed.json()["data"] == [data]
    assert (await call(app_client, operator, "GET", url + "/")).json()["data"] == [data]


async def test_create_ranged(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    data = await create(app_client, operator, campaign_id, freeBetDetails=RANGED, description=None)
    assert data["freeBetDetails"] == RANGED
    assert data["status"] == "Active"
    assert data["description"] is None


@pytest.mark.parametrize(
    ("value", "stored"),
    [(1, 1), ("2.50", 2.5), (0.01, 0.01), (0.07, 0.07), (1000000000, 1000000000)],
)
async def test_bet_values_are_exact(
    app_client: httpx.AsyncClient, operator: Operator, value: Any, stored: float
) -> None:
    campaign_id = await campaign(app_client, operator)
    data = await create(
        app_client, operator, campaign_id, freeBetDetails={**FIXED, "betValue": value}
    )
    assert data["freeBetDetails"]["betValue"] == stored


def _without(details: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k != field}


VALUE = "freeBetDetails.{} must be a number greater than 0 with at most 2 decimal places"
COUNT = "freeBetDetails.{} must be an integer from 1 to 1000000"
CURRENCY = "freeBetDetails.currencyIsoCode must be an ISO 4217 code of three uppercase letters"
PRODUCTS = "products must be an array of at least one non-empty string"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rewardType": None}, "rewardType must be FreeBets"),
        ({"rewardType": "Cash"}, "rewardType must be FreeBets"),
        ({"name": None}, "name is required and cannot be empty or whitespace"),
        ({"name": "  "}, "name is required and cannot be empty or whitespace"),
        ({"name": "x" * 201}, "name must be at most 200 characters"),
        ({"createdBy": None}, "createdBy is required and cannot be empty or whitespace"),
        ({"createdBy": ""}, "createdBy is required and cannot be empty or whitespace"),
        ({"products": None}, PRODUCTS),
        ({"products": []}, PRODUCTS),
        ({"products": [" "]}, PRODUCTS),
        ({"products": ["ok", 5]}, PRODUCTS),
        ({"products": "starburst"}, PRODUCTS),
        ({"startTimeUtc": None}, "startTimeUtc is required"),
        ({"endTimeUtc": None}, "endTimeUtc is required"),
        ({"startTimeUtc": "soon"}, "startTimeUtc must be an ISO 8601 date-time"),
        ({"endTimeUtc": at(-1)}, "endTimeUtc must be strictly after startTimeUtc"),
        ({"description": 5}, "description must be a string"),
        ({"operatorReference": "x" * 201}, "operatorReference must be at most 200 characters"),
        ({"freeBetDetails": None}, "freeBetDetails is required and must be an object"),
        ({"freeBetDetails": [FIXED]}, "freeBetDetails is required and must be an object"),
        (
            {"freeBetDetails": {**FIXED, "freeBetDetailsType": "Other"}},
            "freeBetDetails.freeBetDetailsType must be Fixed or Ranged",
        ),
        (
            {"freeBetDetails": _without(FIXED, "freeBetDetailsType")},
            "freeBetDetails.freeBetDetailsType must be Fixed or Ranged",
        ),
        ({"freeBetDetails": _without(FIXED, "betValue")}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": 0}}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": -1}}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": 1.005}}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": "abc"}}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": "NaN"}}, VALUE.format("betValue")),
        ({"freeBetDetails": {**FIXED, "betValue": True}}, VALUE.format("betValue")),
        (
            {"freeBetDetails": {**FIXED, "betValue": 1000000000.01}},
            "freeBetDetails.betValue must be at most 1000000000",
        ),
        (
            {"freeBetDetails": {**FIXED, "betValue": 1e308}},
            "freeBetDetails.betValue must be at most 1000000000",
        ),
        (
            {"freeBetDetails": {**FIXED, "betValue": 1e28}},
            "freeBetDetails.betValue must be at most 1000000000",
        ),
        (
            {"freeBetDetails": {**RANGED, "maxBetValue": "1e400"}},
            "freeBetDetails.maxBetValue must be at most 1000000000",
        ),
        ({"freeBetDetails": {**FIXED, "betValue": -1e308}}, VALUE.format("betValue")),
        (
            {"startTimeUtc": "0001-01-01T00:00:00Z"},
            "startTimeUtc is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        ),
        ({"freeBetDetails": _without(FIXED, "betCount")}, COUNT.format("betCount")),
        ({"rewardTypes": "FreeBets"}, "rewardTypes is not a known field"),
        (
            {"freeBetDetails": {**FIXED, "betvalue": 2}},
            "freeBetDetails.betvalue is not a known field",
        ),
        ({"freeBetDetails": {**FIXED, "betCount": 0}}, COUNT.format("betCount")),
        ({"freeBetDetails": {**FIXED, "betCount": 1.5}}, COUNT.format("betCount")),
        ({"freeBetDetails": {**FIXED, "betCount": 1000001}}, COUNT.format("betCount")),
        ({"freeBetDetails": _without(FIXED, "currencyIsoCode")}, CURRENCY),
        ({"freeBetDetails": {**FIXED, "currencyIsoCode": "eur"}}, CURRENCY),
        ({"freeBetDetails": {**FIXED, "currencyIsoCode": "EURO"}}, CURRENCY),
        (
            {"freeBetDetails": {**FIXED, "creditWalletType": " "}},
            "freeBetDetails.creditWalletType must be a non-empty string of at most 40 characters",
        ),
        (
            {"freeBetDetails": {**FIXED, "stakeNotReturned": "yes"}},
            "freeBetDetails.stakeNotReturned must be a boolean",
        ),
        ({"freeBetDetails": _without(RANGED, "minBetValue")}, VALUE.format("minBetValue")),
        ({"freeBetDetails": {**RANGED, "maxBetValue": 0.001}}, VALUE.format("maxBetValue")),
        ({"freeBetDetails": _without(RANGED, "minBetCount")}, COUNT.format("minBetCount")),
        ({"freeBetDetails": {**RANGED, "maxBetCount": -2}}, COUNT.format("maxBetCount")),
        (
            {"freeBetDetails": {**RANGED, "minBetValue": 2.01}},
            "freeBetDetails.minBetValue must not be greater than freeBetDetails.maxBetValue",
        ),
        (
            {"freeBetDetails": {**RANGED, "minBetCount": 21}},
            "freeBetDetails.minBetCount must not be greater than freeBetDetails.maxBetCount",
        ),
    ],
)
async def test_validation_rules(
    app_client: httpx.AsyncClient, operator: Operator, change: dict[str, Any], message: str
) -> None:
    campaign_id = await campaign(app_client, operator)
    body = {k: v for k, v in reward_body(**change).items() if v is not None}
    url = f"/v1/campaigns/{campaign_id}/rewards"
    response = await call(app_client, operator, "POST", url, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message, "data": {}, "responseCode": "ValidationError"}


async def test_equal_min_and_max_are_allowed(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    campaign_id = await campaign(app_client, operator)
    details = {**RANGED, "minBetValue": 2, "minBetCount": 20}
    data = await create(app_client, operator, campaign_id, freeBetDetails=details)
    assert data["freeBetDetails"]["minBetValue"] == 2
    assert data["freeBetDetails"]["minBetCount"] == 20


async def test_body_must_be_an_object(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    url = f"/v1/campaigns/{campaign_id}/rewards"
    response = await call(app_client, operator, "POST", url, [reward_body()])
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "The request body must be a JSON object"


async def test_within_the_campaign(app_client: httpx.AsyncClient, operator: Operator) -> None:
    start, end = "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"
    bounded = await campaign(app_client, operator, startTimeUtc=start, endTimeUtc=end)
    url = f"/v1/campaigns/{bounded}/rewards"
    early = reward_body(startTimeUtc="2029-12-31T23:59:59Z", endTimeUtc="2030-01-10T00:00:00Z")
    response = await call(app_client, operator, "POST", url, early)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == (
        f"startTimeUtc must not be before the campaign's startTimeUtc ({start})"
    )
    late = reward_body(startTimeUtc="2030-01-10T00:00:00Z", endTimeUtc="2030-02-01T00:00:01Z")
    response = await call(app_client, operator, "POST", url, late)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == (
        f"endTimeUtc must not be after the campaign's endTimeUtc ({end})"
    )
    # The campaign's own bounds are allowed.
    exact = await create(app_client, operator, bounded, startTimeUtc=start, endTimeUtc=end)
    assert (exact["startTimeUtc"], exact["endTimeUtc"]) == (start, end)
    # A campaign without an end bounds only the start.
    open_ended = await campaign(app_client, operator, startTimeUtc=start, endTimeUtc=None)
    far = await create(
        app_client, operator, open_ended, startTimeUtc=start, endTimeUtc="2099-01-01T00:00:00Z"
    )
    assert far["endTimeUtc"] == "2099-01-01T00:00:00Z"


async def test_campaign_must_be_scheduled_or_active(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    ended = await campaign(app_client, operator, startTimeUtc=at(-3), endTimeUtc=at(-1))
    body = reward_body(startTimeUtc=at(-2), endTimeUtc=at(-1.5))
    response = await call(app_client, operator, "POST", f"/v1/campaigns/{ended}/rewards", body)
    assert response.status_code == 409, response.text
    assert response.json()["responseCode"] == "Conflict"
    assert "Ended" in response.json()["message"]
    cancelled = await campaign(app_client, operator)
    url = f"/v1/campaigns/{cancelled}/cancel"
    await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
    url = f"/v1/campaigns/{cancelled}/rewards"
    response = await call(app_client, operator, "POST", url, reward_body())
    assert response.status_code == 409, response.text
    assert "Cancelled" in response.json()["message"]


async def test_another_operators_campaign_and_reward(
    app_client: httpx.AsyncClient, operator: Operator, runtime: Runtime
) -> None:
    other = await make_operator(runtime)
    campaign_id = await campaign(app_client, operator)
    reward = await create(app_client, operator, campaign_id)
    urls = [
        ("POST", f"/v1/campaigns/{campaign_id}/rewards", reward_body()),
        ("GET", f"/v1/campaigns/{campaign_id}/rewards", None),
        ("GET", f"/v1/rewards/{reward['id']}", None),
        ("POST", f"/v1/rewards/{reward['id']}/cancel", {"cancelledBy": "x@y.com"}),
        ("GET", "/v1/rewards/orw_missing", None),
        ("GET", "/v1/campaigns/cmp_missing/rewards", None),
    ]
    for method, url, body in urls:
        response = await call(app_client, other, method, url, body)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["responseCode"] == "NotFound"
        assert response.json()["data"] == {}
    got = await call(app_client, operator, "GET", f"/v1/rewards/{reward['id']}")
    assert got.json()["data"]["status"] == "Active"


async def test_status_over_time(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    scheduled = await create(app_client, operator, campaign_id, startTimeUtc=at(1))
    active = await create(app_client, operator, campaign_id)
    ended = await create(app_client, operator, campaign_id, startTimeUtc=at(-2), endTimeUtc=at(-1))
    url = f"/v1/campaigns/{campaign_id}/rewards"
    listed = (await call(app_client, operator, "GET", url)).json()["data"]
    assert [(r["id"], r["status"]) for r in listed] == [
        (scheduled["id"], "Scheduled"),
        (active["id"], "Active"),
        (ended["id"], "Ended"),
    ]


async def test_cancel(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    for start in (at(1), at(-1)):
        reward = await create(app_client, operator, campaign_id, startTimeUtc=start)
        url = f"/v1/rewards/{reward['id']}/cancel"
        response = await call(app_client, operator, "POST", url, {"cancelledBy": " a@b.com "})
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "OK", "data": {}, "responseCode": "OK"}
        data = (await call(app_client, operator, "GET", f"/v1/rewards/{reward['id']}")).json()
        assert data["data"]["status"] == "Cancelled"
        assert data["data"]["cancelledBy"] == "a@b.com"
        assert data["data"]["cancelledAtUtc"].endswith("Z")
        again = await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
        assert again.status_code == 409, again.text
        assert again.json()["responseCode"] == "Conflict"
        assert "Cancelled" in again.json()["message"]
    # The campaign is untouched.
    got = await call(app_client, operator, "GET", f"/v1/campaigns/{campaign_id}")
    assert got.json()["data"]["status"] == "Active"


async def test_ended_reward_cannot_be_cancelled(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    campaign_id = await campaign(app_client, operator)
    ended = await create(app_client, operator, campaign_id, startTimeUtc=at(-2), endTimeUtc=at(-1))
    url = f"/v1/rewards/{ended['id']}/cancel"
    response = await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
    assert response.status_code == 409, response.text
    assert "Ended" in response.json()["message"]


@pytest.mark.parametrize("cancelled_by", [None, "", "   "])
async def test_cancelled_by_required(
    app_client: httpx.AsyncClient, operator: Operator, cancelled_by: str | None
) -> None:
    campaign_id = await campaign(app_client, operator)
    reward = await create(app_client, operator, campaign_id)
    body = {} if cancelled_by is None else {"cancelledBy": cancelled_by}
    url = f"/v1/rewards/{reward['id']}/cancel"
    response = await call(app_client, operator, "POST", url, body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": "cancelledBy is required and cannot be empty or whitespace",
        "data": {},
        "responseCode": "ValidationError",
    }


async def test_campaign_cancel_cascades(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    other_campaign = await campaign(app_client, operator)
    scheduled = await create(app_client, operator, campaign_id, startTimeUtc=at(1))
    active = await create(app_client, operator, campaign_id)
    ended = await create(app_client, operator, campaign_id, startTimeUtc=at(-2), endTimeUtc=at(-1))
    earlier = await create(app_client, operator, campaign_id)
    url = f"/v1/rewards/{earlier['id']}/cancel"
    await call(app_client, operator, "POST", url, {"cancelledBy": "first@b.com"})
    untouched = await create(app_client, operator, other_campaign)
    url = f"/v1/campaigns/{campaign_id}/cancel"
    response = await call(app_client, operator, "POST", url, {"cancelledBy": "boss@b.com"})
    assert response.status_code == 200, response.text
    url = f"/v1/campaigns/{campaign_id}/rewards"
    listed = {r["id"]: r for r in (await call(app_client, operator, "GET", url)).json()["data"]}
    got = await call(app_client, operator, "GET", f"/v1/campaigns/{campaign_id}")
    cancelled_at = got.json()["data"]["cancelledAtUtc"]
    for reward in (scheduled, active):
        assert listed[reward["id"]]["status"] == "Cancelled"
        assert listed[reward["id"]]["cancelledBy"] == "boss@b.com"
        assert listed[reward["id"]]["cancelledAtUtc"] == cancelled_at
    assert listed[ended["id"]]["status"] == "Ended"
    assert listed[ended["id"]]["cancelledBy"] is None
    assert listed[earlier["id"]]["cancelledBy"] == "first@b.com"
    other = await call(app_client, operator, "GET", f"/v1/rewards/{untouched['id']}")
    assert other.json()["data"]["status"] == "Active"
