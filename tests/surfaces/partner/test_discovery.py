"""Partner API discovery: headers, tenant isolation, pagination, bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PartnerWorld

pytestmark = pytest.mark.asyncio


async def test_merchants_lists_only_the_clients_own_merchants(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get("/partner/merchants", headers=partner.headers())
    assert response.status_code == 200
    ids = [m["id"] for m in response.json()["merchants"]]
    assert ids == [partner.merchant_id]
    assert set(response.json()["merchants"][0]) == {"id", "name", "handle"}


@pytest.mark.parametrize("missing", ["Authorization", "X-ClientId"])
async def test_missing_credential_header_is_authentication_generic(
    app_client: httpx.AsyncClient, partner: PartnerWorld, missing: str
) -> None:
    headers = partner.headers()
    del headers[missing]
    response = await app_client.get("/partner/merchants", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "AUTHENTICATION_GENERIC"


async def test_wrong_token_is_authentication_generic(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    headers = partner.headers(Authorization=f"Bearer {partner.token}x")
    response = await app_client.get("/partner/merchants", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "code": "AUTHENTICATION_GENERIC",
        "message": "Missing or invalid credentials",
    }


async def test_token_of_another_client_is_refused(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    headers = partner.headers(**{"X-ClientId": partner.other_client_id})
    response = await app_client.get("/partner/merchants", headers=headers)
    assert response.status_code == 401


async def test_missing_accept_version_is_bad_request_naming_the_header(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    headers = partner.headers()
    del headers["Accept-Version"]
    response = await app_client.get("/partner/merchants", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert "Accept-Version" in response.json()["message"]


async def test_unsupported_accept_version_is_bad_request(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get(
        "/partner/merchants", headers=partner.headers(**{"Accept-Version": "v3.0"})
    )
    assert response.status_code == 400
    assert "v3.0" in response.json()["message"]


async def test_locations_of_another_clients_merchant_are_not_found(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get(
        "/partner/locations",
        params={"merchant_id": partner.other_merchant_id},
        headers=partner.headers(),
    )
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


async def test_locations_are_paginated_with_the_vendor_envelope(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get(
        "/partner/locations",
        params={"merchant_id": partner.merchant_id, "per_page": 1},
        headers=partner.headers(),
    )
    assert response.status_code == 200
    body = response.json()
    assert [loc["merchant_id"] for loc in body["locations"]] == [partner.merchant_id]
    assert body["pagination"] == {"current_page": 1, "per_page": 1, "total_pages": 1}
    assert set(body["locations"][0]) == {
        "id",
        "merchant_id",
        "name",
        "street",
        "city",
        "state",
        "zip",
        "phone",
    }


@pytest.mark.parametrize(
    "params", [{"per_page": "0"}, {"per_page": "101"}, {"page": "0"}, {"page": "abc"}]
)
async def test_absurd_pagination_is_bad_request(
    app_client: httpx.AsyncClient, partner: PartnerWorld, params: dict[str, str]
) -> None:
    response = await app_client.get("/partner/locations", params=params, headers=partner.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"


async def test_scopes_lists_the_credentials_scopes(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get("/partner/scopes", headers=partner.headers())
    assert response.status_code == 200
    assert response.json() == {"scopes": ["rewards.issue"]}


async def test_unknown_partner_route_answers_in_the_partner_shape(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.get("/partner/nothing-here", headers=partner.headers())
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


async def test_request_id_is_echoed(app_client: httpx.AsyncClient, partner: PartnerWorld) -> None:
    response = await app_client.get(
        "/partner/merchants", headers=partner.headers(**{"X-Request-Id": "abc-123"})
    )
    assert response.headers["x-request-id"] == "abc-123"
