"""The demo's partner organisation: its demo clients and, beside them in the same deployment, a
UAT client of every surface with credentials that work, data of its own, and no sight of the
demo client's objects."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from bestow.demo import seed
from bestow.deps import Runtime
from tests.lab.catalogue_helpers import run_cli
from tests.operator.helpers import sign
from tests.surfaces.admin.helpers import ADMIN
from tests.surfaces.partner.helpers import campaign_body


def partner_headers(partner: dict[str, Any]) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {partner['access_token']}",
        "X-ClientId": partner["client_id"],
        "Accept-Version": "v4.0",
    }


async def bearer(app_client: httpx.AsyncClient, client: dict[str, Any]) -> dict[str, str]:
    token = await app_client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_bestow_demo_json_has_a_uat_partner_whose_requests_run_in_uat(
    app_client: httpx.AsyncClient, database_url: str, var_dir: Path
) -> None:
    result = await run_cli(database_url, var_dir, "demo", "--json")
    assert result.exit_code == 0, result.output
    demo = json.loads(result.stdout)
    assert {"admin", "partner", "vouchers", "loyalty", "operator"} <= set(demo)
    uat = demo["environments"]["uat"]
    assert {"partner", "vouchers", "loyalty", "operator"} <= set(uat)
    partner = uat["partner"]
    assert set(partner) >= {"client_id", "access_token", "merchant_id", "template_id", "members"}
    assert len(partner["members"]) >= 10
    assert all(set(m) >= {"email", "phone"} for m in partner["members"])
    assert partner["client_id"] != demo["partner"]["client_id"]
    assert partner["merchant_id"] != demo["partner"]["merchant_id"]

    merchants = await app_client.get("/partner/merchants", headers=partner_headers(partner))
    assert merchants.status_code == 200, merchants.text
    assert merchants.headers["X-Bestow-Environment"] == "uat"
    assert [m["id"] for m in merchants.json()["merchants"]] == [partner["merchant_id"]]
    templates = await app_client.get(
        "/partner/reward_templates",
        params={"merchant_id": partner["merchant_id"]},
        headers=partner_headers(partner),
    )
    assert partner["template_id"] in {t["id"] for t in templates.json()["reward_templates"]}

    demo_call = await app_client.get("/partner/merchants", headers=partner_headers(demo["partner"]))
    assert demo_call.headers["X-Bestow-Environment"] == "demo"


async def test_the_uat_partner_cannot_see_the_demo_partners_objects(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    mine, theirs = demo["environments"]["uat"]["partner"], demo["partner"]
    created = await app_client.post(
        "/partner/campaigns",
        json=campaign_body(theirs["merchant_id"], theirs["template_id"]),
        headers=partner_headers(theirs),
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]

    seen = await app_client.get(f"/partner/campaigns/{campaign_id}", headers=partner_headers(mine))
    assert seen.status_code == 404, seen.text
    their_templates = await app_client.get(
        "/partner/reward_templates",
        params={"merchant_id": theirs["merchant_id"]},
        headers=partner_headers(mine),
    )
    assert their_templates.status_code in (403, 404), their_templates.text
    issue = await app_client.post(
        "/partner/campaigns",
        json=campaign_body(theirs["merchant_id"], theirs["template_id"]),
        headers=partner_headers(mine),
    )
    assert issue.status_code in (403, 404), issue.text


async def test_the_uat_voucher_client_sees_only_its_dedicated_catalogue(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    uat = demo["environments"]["uat"]["vouchers"]
    listed = await app_client.get("/v3/products", headers=await bearer(app_client, uat))
    assert listed.status_code == 200, listed.text
    assert listed.headers["X-Bestow-Environment"] == "uat"
    assert {p["code"] for p in listed.json()} == set(uat["product_codes"]) == set(seed.UAT_PRODUCTS)
    everything = await app_client.get(
        "/v3/products", headers=await bearer(app_client, demo["vouchers"])
    )
    assert set(demo["vouchers"]["product_codes"]) <= {p["code"] for p in everything.json()}
    outside = next(c for c in demo["vouchers"]["product_codes"] if c not in seed.UAT_PRODUCTS)
    refused = await app_client.post(
        f"/v3/products/{outside}",
        json={"quantity": 1},
        headers={**await bearer(app_client, uat), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert refused.status_code == 404, refused.text


async def test_the_uat_loyalty_and_operator_clients_work_on_their_own_data(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    uat = demo["environments"]["uat"]
    loyalty = uat["loyalty"]
    assert loyalty["merchant_id"] == uat["partner"]["merchant_id"] != demo["loyalty"]["merchant_id"]
    headers = await bearer(app_client, loyalty)
    correlation = f"uat-{uuid.uuid4().hex[:8]}"
    opened = await app_client.post(
        f"/client/users/{loyalty['account']['account_id']}/sessions",
        json={"correlationId": correlation, "channel": "APP"},
        headers={**headers, "X-Identifier-Type": "ACCOUNT_ID"},
    )
    assert opened.status_code == 200, opened.text
    assert opened.headers["X-Bestow-Environment"] == "uat"
    # The demo programme's member is not the UAT client's.
    foreign = await app_client.post(
        f"/client/users/{demo['loyalty']['account']['account_id']}/sessions",
        json={"correlationId": f"uat-{uuid.uuid4().hex[:8]}", "channel": "APP"},
        headers={**headers, "X-Identifier-Type": "ACCOUNT_ID"},
    )
    assert foreign.status_code != 200, foreign.text

    operator = uat["operator"]
    assert operator["operator_id"] != demo["operator"]["operator_id"]
    url = "/v1/campaigns"
    listed = await app_client.get(
        url,
        headers={
            "X-AUTH-OPERATOR-ID": str(operator["operator_id"]),
            "X-AUTH-REQUEST-HASH": sign(operator["primary_shared_key"], url),
        },
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["X-Bestow-Environment"] == "uat"
    assert operator["campaign_id"] in listed.text
    assert demo["operator"]["campaign_id"] not in listed.text


async def test_the_demo_and_uat_clients_of_every_surface_share_one_organisation(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    demo, _ = await seed.ensure(runtime)
    uat = demo["environments"]["uat"]
    listed = await app_client.get(
        "/admin/clients",
        params={"organization": uat["organization"], "limit": 100},
        headers=ADMIN,
    )
    assert listed.status_code == 200, listed.text
    by_id = {c["id"]: c["environment"] for c in listed.json()["data"]}
    for surface in ("partner", "vouchers", "loyalty", "operator"):
        assert by_id[demo[surface]["client_id"]] == "demo"
        assert by_id[uat[surface]["client_id"]] == "uat"
