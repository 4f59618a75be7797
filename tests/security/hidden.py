"""What the tenancy and environment-isolation tests share: the client routes that take an
object id (generated from the route table), how to ask one for another client's object, and the
assertion that it is hidden (the surface's "not found", the same as for an unknown id)."""

from __future__ import annotations

import uuid

import httpx

from tests.loyalty.helpers import reward_body
from tests.operator.helpers import reward_body as operator_reward_body
from tests.security.world import OBJECTS, Route, World, error_shape, is_public, route_table

CLIENT_SURFACES = ("partner", "vouchers", "loyalty", "operator")


SHARED: dict[tuple[str, str], str] = {
    ("vouchers", "code"): "the product catalogue is the deployment's, shared by every client",
    ("vouchers", "voucher_code"): "merchant redemption: the voucher code is the bearer secret "
    "(80 random bits); any client holding redeem_vouchers may act on any voucher of its own "
    "environment (tests/lab/test_environments_isolation.py)",
}
"""Routes where another client's object is legitimately reachable, with the reason."""

BODIES: dict[str, object] = {
    "/partner/issuance_jobs/{job_id}/revoke": {"merchant_id": "<b>"},
    "/client/users/{identifier}/sessions": {
        "correlationId": "6a0c1d8e-7f2b-4c1a-9d3e-000000000001",
        "channel": "APP",
    },
    "/client/users/{correlation_id}/adhoc-reward": "reward",
    "/v1/rewards/{reward_id}/enrollments": {"operatorPlayerId": "p-b"},
    "/v1/rewards/{reward_id}/enrollments/bulk": {"operatorPlayerIds": ["p-b"]},
    "/v1/campaigns/{campaign_id}/rewards": "operator-reward",
    "/v1/enrollments/{enrollment_id}/bets": {"betId": "bet-1", "product": "starburst"},
    "/v1/campaigns/{campaign_id}/cancel": {"cancelledBy": "ops@example.com"},
    "/v1/rewards/{reward_id}/cancel": {"cancelledBy": "ops@example.com"},
    "/v1/enrollments/{enrollment_id}/cancel": {"cancelledBy": "ops@example.com"},
}
"""Valid bodies, so that the answer is about the object and not about the body."""


def object_routes() -> list[Route]:
    return [
        r
        for r in route_table()
        if r.surface in CLIENT_SURFACES and r.path_params and not is_public(r)
    ]


ROUTES = object_routes()


def checked_routes() -> list[Route]:
    return [
        r
        for r in ROUTES
        if not any((r.surface, name) in SHARED for name in r.path_params)
        and all((r.surface, name) in OBJECTS for name in r.path_params)
    ]


LOYALTY_NOT_FOUND = {
    "statusCode": 400,
    "errorCode": "INVALID_REQUEST",
    "errorMessage": "Could not find the account",
}
"""The Loyalty API's documented answer for an account it cannot find (the vendor's contract has
no 404 for members): client A's member or session must get exactly this."""


async def ask(world: World, route: Route, ids: dict[str, str]) -> httpx.Response:
    assert route.surface is not None
    url = route.path
    for name in route.path_params:
        url = url.replace("{" + name + "}", ids[name])
    body: object = BODIES.get(route.path.rstrip("/"), {})
    if route.path.endswith("/accounts/links"):
        url += "?identifiers=someone@example.com"
    if route.surface == "partner":
        merchant = world.partner_b.merchant_id
        if "merchant_id" in route.query_params:
            url += f"?merchant_id={merchant}"
        if body == {"merchant_id": "<b>"}:
            body = {"merchant_id": merchant}
    if body == "reward":
        body = reward_body()
    elif body == "operator-reward":
        body = operator_reward_body()
    return await world.as_b(route.surface, route.method, url, body=body)


async def assert_hidden(world: World, route: Route, theirs: dict[str, str], label: str) -> None:
    """Client B asking for A's object (``theirs``: its path values) gets the surface's "not
    found", in the surface's error shape, exactly as for ids that do not exist."""
    assert route.surface is not None
    response = await ask(world, route, theirs)
    text = f"{label}: {response.status_code} {response.text}"
    if route.surface == "loyalty" and response.status_code != 404:
        assert response.json() == LOYALTY_NOT_FOUND, text
    else:
        assert response.status_code == 404, text
    error_shape(route.surface, response)
    unknown = {n: str(uuid.uuid4()) for n in route.path_params}
    absent = await ask(world, route, unknown)
    assert absent.status_code == response.status_code, f"{text} / unknown: {absent.text}"
    assert set(absent.json()) == set(response.json())
