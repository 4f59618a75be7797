"""``bestow demo``: the demo data set is seeded once and its credentials work on every surface."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import orjson

from bestow.demo import seed
from bestow.deps import Runtime
from bestow.models import SystemValue
from tests.conftest import ADMIN_TOKEN


async def test_the_demo_is_seeded_once_and_its_voucher_client_reads_the_catalogue(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, _ = await seed.ensure(runtime)
    again, created = await seed.ensure(runtime)
    assert (again, created) == (first, False)
    assert {"admin", "partner", "merchants", "vouchers", "loyalty"} <= set(first)
    assert set(first["vouchers"]["merchant"]) == {"client_id", "client_secret"}

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


async def bearer(
    app_client: httpx.AsyncClient, client: dict[str, str]
) -> tuple[dict[str, str], str]:
    """The client's ``Authorization`` header and the scopes of its token."""
    token = await app_client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    body = token.json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["scope"]


async def test_the_demo_merchant_till_redeems_a_voucher_the_demo_client_issued(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    issuer, _ = await bearer(app_client, demo["vouchers"])
    till, scope = await bearer(app_client, demo["vouchers"]["merchant"])
    assert scope == "redeem_vouchers"

    issued = await app_client.post(
        "/v3/products/DEMO-GIFT50",
        json={"quantity": 1},
        headers={**issuer, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.status_code == 200, issued.text
    code = issued.json()["vouchers"][0]["voucher_code"]
    redeemed = await app_client.post(
        f"/v3/merchant/vouchers/{code}/redeem", json={"amount": 1250}, headers=till
    )
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["voucher"]["remaining_amount"] == 3750
    refused = await app_client.post(
        f"/v3/merchant/vouchers/{code}/redeem", json={"amount": 1}, headers=issuer
    )
    assert refused.status_code == 403, refused.text


async def test_a_demo_seeded_before_the_merchant_till_gets_it_and_keeps_the_rest(
    runtime: Runtime,
) -> None:
    demo, _ = await seed.ensure(runtime)
    older = {**demo, "vouchers": {k: v for k, v in demo["vouchers"].items() if k != "merchant"}}
    async with runtime.db.write_session() as session:
        stored = await session.get(SystemValue, seed.DEMO_KEY)
        assert stored is not None
        stored.value = runtime.sealer.seal(orjson.dumps(older).decode())
        await session.commit()

    upgraded, created = await seed.ensure(runtime)
    assert not created
    merchant = upgraded["vouchers"].pop("merchant")
    assert set(merchant) == {"client_id", "client_secret"}
    assert merchant["client_id"] != demo["vouchers"]["merchant"]["client_id"]
    assert upgraded == older
    assert await seed.load(runtime) == {
        **older,
        "vouchers": {**older["vouchers"], "merchant": merchant},
    }


async def test_the_demo_loyalty_partner_awards_points_to_the_demo_member(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    loyalty = demo["loyalty"]
    assert set(loyalty) >= {
        "client_id",
        "client_secret",
        "token_url",
        "merchant_id",
        "business_units",
        "reward_ids",
        "member",
        "inactive_member",
    }
    assert loyalty["token_url"] == "/oauth2/token"
    assert loyalty["merchant_id"] == demo["merchants"][0]["id"]
    assert set(loyalty["member"]) == {"account_id", "loyalty_id", "email"}
    headers, scope = await bearer(app_client, loyalty)
    assert scope == "loyalty.adhoc_reward"

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    client = await app_client.get(f"/admin/clients/{loyalty['client_id']}", headers=admin)
    assert (client.json()["name"], client.json()["rate_limit_tier"]) == (
        "Demo Loyalty Partner",
        "high",
    )
    feature = await app_client.get(
        f"/admin/clients/{loyalty['client_id']}/features/adhoc_reward", headers=admin
    )
    assert feature.json()["enabled"] is True
    defined = await app_client.get(
        f"/admin/merchants/{loyalty['merchant_id']}/loyalty_rewards", headers=admin
    )
    enabled = {r["reward_id"]: r["enabled"] for r in defined.json()["data"]}
    assert enabled == {
        **dict.fromkeys(loyalty["reward_ids"], True),
        loyalty["disabled_reward_id"]: False,
    }

    correlation = f"demo-{uuid.uuid4().hex[:8]}"

    async def open_session(account_id: str, correlation_id: str) -> httpx.Response:
        return await app_client.post(
            f"/client/users/{account_id}/sessions",
            json={"correlationId": correlation_id, "channel": "APP"},
            headers={**headers, "X-Identifier-Type": "ACCOUNT_ID"},
        )

    async def award(correlation_id: str, **over: object) -> httpx.Response:
        body = {
            "channel": "APP",
            "businessUnit": loyalty["business_units"][0],
            "issuerId": "demo",
            "rewardId": loyalty["reward_ids"][0],
            "rewardAmount": 100,
            **over,
        }
        return await app_client.post(
            f"/client/users/{correlation_id}/adhoc-reward/", json=body, headers=headers
        )

    opened = await open_session(loyalty["member"]["account_id"], correlation)
    assert opened.status_code == 200, opened.text
    before = opened.json()["pointsBalance"]
    awarded = await award(correlation)
    assert awarded.status_code == 200, awarded.text
    again = await open_session(loyalty["member"]["account_id"], correlation)
    assert again.json()["pointsBalance"] == before + 100
    assert again.json()["loyaltyId"] == loyalty["member"]["loyalty_id"]

    disabled = await award(correlation, rewardId=loyalty["disabled_reward_id"])
    assert disabled.json()["errorMessage"] == "Reward identifier is invalid"
    other_unit = await award(correlation, businessUnit=loyalty["business_units"][1], rewardAmount=1)
    assert other_unit.status_code == 200, other_unit.text

    inactive = f"demo-{uuid.uuid4().hex[:8]}"
    assert (await open_session(loyalty["inactive_member"]["account_id"], inactive)).json()[
        "status"
    ] == "INACTIVE"
    refused = await award(inactive)
    assert (refused.status_code, refused.json()["errorMessage"]) == (400, "Account is not active")


async def test_a_demo_seeded_before_the_loyalty_api_gets_it_and_keeps_the_rest(
    runtime: Runtime,
) -> None:
    demo, _ = await seed.ensure(runtime)
    older = {k: v for k, v in demo.items() if k != "loyalty"}
    async with runtime.db.write_session() as session:
        stored = await session.get(SystemValue, seed.DEMO_KEY)
        assert stored is not None
        stored.value = runtime.sealer.seal(orjson.dumps(older).decode())
        await session.commit()

    # Its units and rewards are there already (this database has had them): they are kept.
    upgraded, created = await seed.ensure(runtime)
    assert not created
    loyalty = upgraded.pop("loyalty")
    assert upgraded == older
    assert loyalty["client_id"] != demo["loyalty"]["client_id"]
    fresh = ("client_id", "client_secret", "feature_disabled_client")
    assert {k: v for k, v in loyalty.items() if k not in fresh} == {
        k: v for k, v in demo["loyalty"].items() if k not in fresh
    }
    assert await seed.load(runtime) == {**older, "loyalty": loyalty}


async def test_the_demo_json_holds_every_key_of_the_documented_contract(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The keys outside tests rely on (SPEC: ``bestow demo --json``), each usable as documented."""
    demo, _ = await seed.ensure(runtime)
    assert set(demo["admin"]) >= {"token"}
    partner = demo["partner"]
    assert set(partner) >= {"client_id", "access_token", "merchant_id", "template_id", "members"}
    assert len(partner["members"]) >= 10
    assert all(set(m) >= {"email", "phone"} for m in partner["members"])
    assert set(demo["vouchers"]) >= {"client_id", "client_secret"}
    loyalty = demo["loyalty"]
    assert set(loyalty) >= {
        "client_id",
        "client_secret",
        "business_unit",
        "reward_id",
        "reward_max_amount",
        "account",
        "inactive_account",
        "feature_disabled_client",
    }
    assert set(loyalty["account"]) == {"account_id", "loyalty_id", "email"}
    assert set(loyalty["inactive_account"]) == {"account_id"}
    operator = demo["operator"]
    assert set(operator) >= {"operator_id", "primary_shared_key", "secondary_shared_key"}

    # The ad hoc reward, as the loyalty keys describe it: at the maximum it passes, above it not;
    # the feature-disabled client is refused with the seed's message.
    headers, _ = await bearer(app_client, loyalty)
    correlation = f"demo-{uuid.uuid4().hex[:8]}"
    opened = await app_client.post(
        f"/client/users/{loyalty['account']['account_id']}/sessions",
        json={"correlationId": correlation, "channel": "APP"},
        headers={**headers, "X-Identifier-Type": "ACCOUNT_ID"},
    )
    assert opened.status_code == 200, opened.text

    async def award(auth: dict[str, str], amount: int) -> httpx.Response:
        body = {
            "channel": "APP",
            "businessUnit": loyalty["business_unit"],
            "issuerId": "demo",
            "rewardId": loyalty["reward_id"],
            "rewardAmount": amount,
        }
        return await app_client.post(
            f"/client/users/{correlation}/adhoc-reward/", json=body, headers=auth
        )

    assert (await award(headers, loyalty["reward_max_amount"])).status_code == 200
    assert (await award(headers, loyalty["reward_max_amount"] + 1)).status_code == 400
    other, _ = await bearer(app_client, loyalty["feature_disabled_client"])
    refused = await award(other, 1)
    assert refused.json()["errorMessage"] == "Adhoc Reward feature is not enabled"

    # Both shared keys sign Operator API requests.
    for key in (operator["primary_shared_key"], operator["secondary_shared_key"]):
        signature = hashlib.sha256(f"{key}/v1/campaigns".encode()).hexdigest()
        listed = await app_client.get(
            "/v1/campaigns",
            headers={
                "X-AUTH-OPERATOR-ID": str(operator["operator_id"]),
                "X-AUTH-REQUEST-HASH": signature,
            },
        )
        assert listed.status_code == 200, listed.text


async def test_a_demo_seeded_with_the_earlier_operator_key_names_gets_the_documented_ones(
    runtime: Runtime,
) -> None:
    demo, _ = await seed.ensure(runtime)
    older = orjson.loads(orjson.dumps(demo))
    for slot in ("primary", "secondary"):
        older["operator"][f"{slot}_key"] = older["operator"].pop(f"{slot}_shared_key")
    async with runtime.db.write_session() as session:
        stored = await session.get(SystemValue, seed.DEMO_KEY)
        assert stored is not None
        stored.value = runtime.sealer.seal(orjson.dumps(older).decode())
        await session.commit()
    upgraded, created = await seed.ensure(runtime)
    assert not created
    assert upgraded == demo
