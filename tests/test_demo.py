"""``bestow demo``: the demo data set is seeded once and its credentials work on every surface."""

from __future__ import annotations

import httpx

from bestow.demo import seed
from bestow.deps import Runtime


async def test_the_demo_is_seeded_once_and_its_voucher_client_reads_the_catalogue(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, _ = await seed.ensure(runtime)
    again, created = await seed.ensure(runtime)
    assert (again, created) == (first, False)
    assert {"admin", "partner", "merchants", "vouchers"} <= set(first)

    vouchers = first["vouchers"]
    token = await app_client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(vouchers["client_id"], vouchers["client_secret"]),
    )
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == {
        "read_catalogue",
        "issue_vouchers",
        "read_vouchers",
    }

    listed = await app_client.get(
        "/v3/products", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert listed.status_code == 200, listed.text
    products = {p["code"]: p for p in listed.json()}
    assert set(vouchers["product_codes"]) <= set(products)
    kinds = {
        (p["is_value_based"], p["is_open_value"], p["is_multiple_use"], p["is_status_available"])
        for code, p in products.items()
        if code in vouchers["product_codes"]
    }
    assert kinds == {
        (True, False, False, True),  # fixed value
        (True, True, False, True),  # open value
        (False, False, True, True),  # product based
        (True, False, True, True),  # gift card (super voucher)
        (True, False, False, False),  # status not available
    }

    partner = first["partner"]
    merchants = await app_client.get(
        "/partner/merchants",
        headers={
            "Authorization": f"Bearer {partner['access_token']}",
            "X-ClientId": partner["client_id"],
            "Accept-Version": "v4.0",
        },
    )
    assert merchants.status_code == 200, merchants.text
