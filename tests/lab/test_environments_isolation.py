"""Environment isolation, generated from the route table like ``tests/security/test_tenancy.py``:
in one unpinned deployment, client A is a UAT (then a production) client on every surface and
client B a demo one; B gets the surface's "not found" for every A object on every route, the
voucher code at the merchant's till too, and each answer names the caller's environment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.lab.env_helpers import (
    ENVIRONMENT_HEADER,
    environments_world,
    issue_voucher,
    merchant_calls,
    product_code,
    voucher_client,
)
from tests.security.hidden import assert_hidden, checked_routes
from tests.security.world import OBJECTS, Route, World, error_shape
from tests.surfaces.partner.helpers import Partner, grant, new_partner


@pytest.fixture(scope="module", params=["uat", "production"])
async def world(
    request: pytest.FixtureRequest, database_url: str, var_dir: Path
) -> AsyncIterator[World]:
    async with environments_world(database_url, var_dir, request.param) as opened:
        yield opened


ROUTES = checked_routes()


def test_the_table_covers_routes() -> None:
    assert len(ROUTES) >= 30


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_demo_client_gets_404_for_other_environment_objects(
    world: World, route: Route
) -> None:
    """The answer is the surface's "not found", the same as for an id that does not exist; and
    A itself reaches the object, so that the 404 is about who asks."""
    assert route.surface is not None
    assert world.a_environment in ("uat", "production") and world.b_environment == "demo"
    theirs = {n: world.objects[OBJECTS[(route.surface, n)]] for n in route.path_params}
    await assert_hidden(world, route, theirs, f"{route} ({world.a_environment} object)")


async def test_owner_reaches_its_objects(world: World) -> None:
    """The control: A's own credentials find what B cannot."""
    checks = [
        ("partner", f"/partner/campaigns/{world.objects['partner.campaign_id']}"),
        ("vouchers", f"/v3/vouchers/{world.objects['vouchers.voucher_id']}"),
        ("operator", f"/v1/rewards/{world.objects['operator.reward_id']}"),
    ]
    for surface, url in checks:
        if surface == "partner":
            url += f"?merchant_id={world.partner_a.merchant_id}"
        response = await world.as_b(surface, "GET", url, who="a")
        assert response.status_code == 200, f"{url}: {response.text}"


async def test_voucher_codes_stay_in_their_environment(world: World) -> None:
    """A demo till typing a UAT or production voucher's code gets the unknown code's 404, on
    look-up, redeem and void, and the voucher is untouched; a till of the voucher's own
    environment finds it. The other way round too."""
    http, a_env = world.http, world.a_environment
    assert a_env is not None
    code = world.objects["vouchers.voucher_code"]
    demo_till = world.voucher_b[2]
    unknown = await merchant_calls(http, demo_till, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    for answer, missing in zip(await merchant_calls(http, demo_till, code), unknown, strict=True):
        assert answer.status_code == 404, answer.text
        error_shape("vouchers", answer)
        assert answer.json()["code"] == missing.json()["code"], (answer.text, missing.text)
        assert code not in answer.text
    own_till = await voucher_client(http, world.runtime, a_env)
    found = await http.get(f"/v3/merchant/vouchers/{code}", headers=own_till)
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "active" and found.json()["redemptions"] == []

    product = await product_code(world.runtime)
    _, demo_code = await issue_voucher(http, demo_till, product)
    for answer in await merchant_calls(http, own_till, demo_code):
        assert answer.status_code == 404, answer.text
    redeemed = await http.post(
        f"/v3/merchant/vouchers/{demo_code}/redeem", json={}, headers=demo_till
    )
    assert redeemed.status_code == 200, redeemed.text


async def test_shared_merchant_shows_no_other_environment_activity(world: World) -> None:
    """A merchant granted to both A and a demo Partner client: the demo client sees none of A's
    campaigns or issuance jobs (by id or in its lists), only the merchant itself."""
    a = world.partner_a
    demo = await new_partner(world.runtime, environment="demo")
    await grant(world.runtime, demo, a.merchant_id)
    shared = Partner(demo.client_id, demo.token, a.merchant_id)
    http = world.http
    merchants = await http.get("/partner/merchants", headers=shared.headers())
    assert merchants.status_code == 200, merchants.text
    assert a.merchant_id in merchants.text
    query = f"?merchant_id={a.merchant_id}"
    campaign_id = world.objects["partner.campaign_id"]
    job_id = world.objects["partner.job_id"]
    for url in (f"/partner/campaigns/{campaign_id}", f"/partner/issuance_jobs/{job_id}"):
        response = await http.get(url + query, headers=shared.headers())
        assert response.status_code == 404, f"{url}: {response.text}"
    listed = await http.get(f"/partner/campaigns{query}", headers=shared.headers())
    assert listed.status_code == 200, listed.text
    assert campaign_id not in listed.text
    mine = await http.get(f"/partner/campaigns{query}", headers=a.headers())
    assert campaign_id in mine.text


async def test_answers_name_the_callers_environment(world: World) -> None:
    """``X-Bestow-Environment`` on each surface, for A and for B in the same deployment."""
    for who, environment in (("a", world.a_environment), ("b", "demo")):
        loyalty = world.loyalty_a if who == "a" else world.loyalty_b
        calls = {
            "partner": "/partner/merchants",
            "vouchers": f"/v3/vouchers/{uuid.uuid4()}",
            "operator": "/v1/campaigns",
            "loyalty": f"/client/partners/{loyalty.client_id}/accounts/links?identifiers=x@y.io",
        }
        for surface, url in calls.items():
            response = await world.as_b(surface, "GET", url, who=who)
            assert response.status_code < 500, f"{surface} {url}: {response.text}"
            assert response.headers.get(ENVIRONMENT_HEADER) == environment, (
                f"{who} on {surface}: {dict(response.headers)}"
            )
