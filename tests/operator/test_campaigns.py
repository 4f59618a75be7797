"""Operator API campaigns: create (each validation rule with its message), list, get, cancel,
status over time and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from tests.operator.helpers import Operator, call, make_operator

FIELDS = {
    "id",
    "operatorId",
    "name",
    "description",
    "operatorReference",
    "termsAndConditionsUrl",
    "startTimeUtc",
    "endTimeUtc",
    "status",
    "createdAtUtc",
    "createdBy",
    "updatedAtUtc",
    "updatedBy",
    "cancelledAtUtc",
    "cancelledBy",
}
SEED = {
    "name": "Summer Campaign 2026",
    "description": "Summer promotional campaign",
    "operatorReference": "OP-SUMMER-2026",
    "termsAndConditionsUrl": "https://example.com/terms",
    "startTimeUtc": "2026-06-01T00:00:00Z",
    "endTimeUtc": "2026-08-31T23:59:59Z",
    "createdBy": "[email protected]",
}


def at(days: float) -> str:
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def create(http: httpx.AsyncClient, operator: Operator, **fields: Any) -> dict[str, Any]:
    body = {"name": "Campaign", "startTimeUtc": at(-1), "createdBy": "ops@example.com", **fields}
    response = await call(http, operator, "POST", "/v1/campaigns", body)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["message"] == "OK" and envelope["responseCode"] == "OK"
    data: dict[str, Any] = envelope["data"]
    return data


async def test_create_as_the_seed(app_client: httpx.AsyncClient, operator: Operator) -> None:
    response = await call(app_client, operator, "POST", "/v1/campaigns", SEED)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == FIELDS
    assert data["operatorId"] == operator.operator_id
    assert {k: data[k] for k in SEED} == SEED
    assert data["createdAtUtc"].endswith("Z")
    assert data["updatedAtUtc"] is None and data["updatedBy"] is None
    assert data["cancelledAtUtc"] is None and data["cancelledBy"] is None
    got = await call(app_client, operator, "GET", f"/v1/campaigns/{data['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == {"message": "OK", "data": data, "responseCode": "OK"}
    listed = await call(app_client, operator, "GET", "/v1/campaigns")
    assert listed.json()["data"] == [data]


async def test_optional_fields_absent(app_client: httpx.AsyncClient, operator: Operator) -> None:
    data = await create(app_client, operator)
    assert data["endTimeUtc"] is None
    assert data["description"] is None
    assert data["operatorReference"] is None
    assert data["termsAndConditionsUrl"] is None
    assert data["status"] == "Active"
    null_end = await create(app_client, operator, endTimeUtc=None)
    assert null_end["endTimeUtc"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, "name is required and cannot be empty or whitespace"),
        ({"name": ""}, "name is required and cannot be empty or whitespace"),
        ({"name": "   "}, "name is required and cannot be empty or whitespace"),
        ({"createdBy": None}, "createdBy is required and cannot be empty or whitespace"),
        ({"createdBy": ""}, "createdBy is required and cannot be empty or whitespace"),
        ({"createdBy": " \t"}, "createdBy is required and cannot be empty or whitespace"),
        (
            {"endTimeUtc": "2026-06-01T00:00:00Z"},
            "endTimeUtc must be strictly after startTimeUtc",
        ),
        (
            {"endTimeUtc": "2026-05-31T23:59:59Z"},
            "endTimeUtc must be strictly after startTimeUtc",
        ),
        ({"startTimeUtc": None}, "startTimeUtc is required"),
        ({"startTimeUtc": "June 1st"}, "startTimeUtc must be an ISO 8601 date-time"),
        ({"endTimeUtc": 5}, "endTimeUtc must be an ISO 8601 date-time"),
        (
            {"startTimeUtc": "0001-01-01T00:00:00+14:00"},
            "startTimeUtc is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        ),
        (
            {"endTimeUtc": "9999-12-31T23:59:59-12:00"},
            "endTimeUtc is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        ),
        ({"startTimeUtc": "1700000000"}, "startTimeUtc must be an ISO 8601 date-time"),
        ({"nmae": "Typo"}, "nmae is not a known field"),
        (
            {"name": "Spring\x00sale"},
            "name must not contain NUL or other control characters",
        ),
        ({"name": 5}, "name must be a string"),
        ({"name": "x" * 201}, "name must be at most 200 characters"),
    ],
)
async def test_validation_rules(
    app_client: httpx.AsyncClient, operator: Operator, change: dict[str, Any], message: str
) -> None:
    body = {k: v for k, v in {**SEED, **change}.items() if v is not None}
    response = await call(app_client, operator, "POST", "/v1/campaigns", body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message, "data": {}, "responseCode": "ValidationError"}


async def test_body_must_be_an_object(app_client: httpx.AsyncClient, operator: Operator) -> None:
    response = await call(app_client, operator, "POST", "/v1/campaigns", ["not", "an object"])
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "The request body must be a JSON object"


async def test_offsets_are_converted_to_utc(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    data = await create(
        app_client,
        operator,
        startTimeUtc="2030-06-01T02:00:00+02:00",
        endTimeUtc="2030-06-02T00:00:00",
    )
    assert data["startTimeUtc"] == "2030-06-01T00:00:00Z"
    assert data["endTimeUtc"] == "2030-06-02T00:00:00Z"


async def test_status_over_time(app_client: httpx.AsyncClient, operator: Operator) -> None:
    scheduled = await create(app_client, operator, startTimeUtc=at(1), endTimeUtc=at(2))
    open_ended = await create(app_client, operator, startTimeUtc=at(1))
    active = await create(app_client, operator, startTimeUtc=at(-1), endTimeUtc=at(1))
    forever = await create(app_client, operator, startTimeUtc=at(-10))
    ended = await create(app_client, operator, startTimeUtc=at(-2), endTimeUtc=at(-1))
    expected = {
        scheduled["id"]: "Scheduled",
        open_ended["id"]: "Scheduled",
        active["id"]: "Active",
        forever["id"]: "Active",
        ended["id"]: "Ended",
    }
    listed = (await call(app_client, operator, "GET", "/v1/campaigns")).json()["data"]
    assert {c["id"]: c["status"] for c in listed} == expected
    assert [c["id"] for c in listed] == list(expected)


async def test_cancel(app_client: httpx.AsyncClient, operator: Operator) -> None:
    for start, end in ((at(1), at(2)), (at(-1), None)):
        campaign = await create(app_client, operator, startTimeUtc=start, endTimeUtc=end)
        url = f"/v1/campaigns/{campaign['id']}/cancel"
        response = await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "OK", "data": {}, "responseCode": "OK"}
        got = await call(app_client, operator, "GET", f"/v1/campaigns/{campaign['id']}")
        data = got.json()["data"]
        assert data["status"] == "Cancelled"
        assert data["cancelledBy"] == "a@b.com"
        assert data["cancelledAtUtc"].endswith("Z")
        # Cancelled is terminal.
        again = await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
        assert again.status_code == 409, again.text
        assert again.json()["responseCode"] == "Conflict"
        assert "Cancelled" in again.json()["message"]


async def test_ended_cannot_be_cancelled(app_client: httpx.AsyncClient, operator: Operator) -> None:
    ended = await create(app_client, operator, startTimeUtc=at(-2), endTimeUtc=at(-1))
    url = f"/v1/campaigns/{ended['id']}/cancel"
    response = await call(app_client, operator, "POST", url, {"cancelledBy": "a@b.com"})
    assert response.status_code == 409, response.text
    assert response.json()["data"] == {}
    assert "Ended" in response.json()["message"]


@pytest.mark.parametrize("cancelled_by", [None, "", "   "])
async def test_cancelled_by_required(
    app_client: httpx.AsyncClient, operator: Operator, cancelled_by: str | None
) -> None:
    campaign = await create(app_client, operator)
    body = {} if cancelled_by is None else {"cancelledBy": cancelled_by}
    url = f"/v1/campaigns/{campaign['id']}/cancel"
    response = await call(app_client, operator, "POST", url, body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": "cancelledBy is required and cannot be empty or whitespace",
        "data": {},
        "responseCode": "ValidationError",
    }
    got = await call(app_client, operator, "GET", f"/v1/campaigns/{campaign['id']}")
    assert got.json()["data"]["status"] == "Active"


async def test_another_operators_campaign_is_not_found(
    app_client: httpx.AsyncClient, operator: Operator, runtime: Runtime
) -> None:
    other = await make_operator(runtime)
    theirs = await create(app_client, other)
    for method, url, body in (
        ("GET", f"/v1/campaigns/{theirs['id']}", None),
        ("POST", f"/v1/campaigns/{theirs['id']}/cancel", {"cancelledBy": "a@b.com"}),
    ):
        response = await call(app_client, operator, method, url, body)
        assert response.status_code == 404, response.text
        assert response.json()["responseCode"] == "NotFound"
        assert response.json()["data"] == {}
    assert (await call(app_client, operator, "GET", "/v1/campaigns")).json()["data"] == []
    still = await call(app_client, other, "GET", f"/v1/campaigns/{theirs['id']}")
    assert still.json()["data"]["status"] == "Active"


async def test_unknown_route_and_campaign(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    response = await call(app_client, operator, "GET", "/v1/campaigns/cmp_missing")
    assert response.status_code == 404
    assert response.json()["responseCode"] == "NotFound"
    response = await app_client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "message": "No such resource",
        "data": {},
        "responseCode": "NotFound",
    }
