"""Boundaries of the Admin API's write operations: clients, credentials, grants, merchants,
locations, business units, members (one and imported), templates, products, webhook endpoints,
vouchers, loyalty rewards and features, fault rules. Each works on objects of its own, never on
those that the world's other surfaces authenticate with."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.boundaries.engine import (
    BOUNDARY_SETTINGS,
    Field,
    Operation,
    Request,
    cases,
    check,
    check_every_value,
    once,
    values_for,
    whole_cases,
)
from tests.conftest import unique
from tests.security.world import ADMIN, World


async def _post(world: World, url: str, body: Any) -> dict[str, Any]:
    response = await world.http.post(url, json=body, headers=ADMIN)
    assert response.status_code in (200, 201, 204), response.text
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


async def _new_client(world: World) -> str:
    client = await _post(world, "/admin/clients", {"name": unique("boundaries")})
    return str(client["id"])


async def _client(world: World) -> str:
    return await once(world, "boundaries.admin.client", lambda: _new_client(world))


async def _new_merchant(world: World) -> str:
    body = {"name": "Boundaries", "handle": unique("bnd"), "time_zone": "UTC"}
    return str((await _post(world, "/admin/merchants", body))["id"])


async def _merchant(world: World) -> str:
    return await once(world, "boundaries.admin.merchant", lambda: _new_merchant(world))


async def _credential(world: World) -> str:
    client_id = await _client(world)
    url = f"/admin/clients/{client_id}/credentials"
    return str((await _post(world, url, {"kind": "partner_token", "label": "x"}))["id"])


async def _template(world: World) -> str:
    url = f"/admin/merchants/{await _merchant(world)}/reward_templates"
    return str((await _post(world, url, _template_body()))["id"])


def _template_body() -> dict[str, Any]:
    return {
        "kind": "discount",
        "name": "Five off",
        "subtype": "amount",
        "description": "Five dollars off",
        "fine_print": "One per guest",
        "discount": {"type": "amount", "value": 500},
        "redemption_venue": "in_store",
        "images": {"default": "https://img.example/five.png"},
        "publish": False,
    }


async def _endpoint(world: World) -> str:
    url = f"/admin/clients/{await _client(world)}/webhook_endpoints"
    return str((await _post(world, url, {"url": "http://127.0.0.1:9/hooks"}))["id"])


async def _voucher(world: World) -> str:
    code = world.objects["vouchers.product_code"]
    response = await world.http.post(
        f"/v3/products/{code}",
        json={"quantity": 1},
        headers={**world.voucher_a[2], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["vouchers"][0]["voucher_code"])


def _product_body() -> dict[str, Any]:
    return {
        "code": unique("BND").replace("-", "_"),
        "name": "Ten dollars",
        "description": "A voucher",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 1000,
        "validity_days": 30,
        "stock": 100,
        "terms": "Terms",
        "image_url": "https://img.example/ten.png",
    }


async def _product(world: World) -> str:
    async def make() -> str:
        return str((await _post(world, "/admin/products", _product_body()))["code"])

    return await once(world, "boundaries.admin.product", make)


async def _loyalty_reward(world: World) -> str:
    async def make() -> str:
        url = f"/admin/merchants/{await _merchant(world)}/loyalty_rewards"
        body = {"reward_id": unique("R"), "name": "Points", "max_per_transaction": 100}
        return str((await _post(world, url, body))["id"])

    return await once(world, "boundaries.admin.loyalty_reward", make)


async def create_client(world: World) -> Request:
    body = {
        "name": unique("boundaries"),
        "scopes": ["rewards.issue"],
        "rate_limit_tier": "default",
        "operator_id": 1234,
    }
    return Request(body=body)


async def patch_client(world: World) -> Request:
    body = {"name": "Renamed", "scopes": ["rewards.issue"], "rate_limit_tier": "default"}
    return Request(params={"client_id": await _client(world)}, body=body)


async def create_credential(world: World) -> Request:
    body = {"kind": "partner_token", "label": "boundaries"}
    return Request(params={"client_id": await _client(world)}, body=body)


async def rotate_credential(world: World) -> Request:
    params = {"client_id": await _client(world), "credential_id": await _credential(world)}
    return Request(params=params, body={"grace_seconds": 60})


async def revoke_credential(world: World) -> Request:
    params = {"client_id": await _client(world), "credential_id": await _credential(world)}
    return Request(params=params)


async def grant(world: World) -> Request:
    body = {"merchant_id": await _new_merchant(world)}
    return Request(params={"client_id": await _client(world)}, body=body)


async def ungrant(world: World) -> Request:
    client_id, merchant_id = await _client(world), await _new_merchant(world)
    await _post(world, f"/admin/clients/{client_id}/merchants", {"merchant_id": merchant_id})
    return Request(params={"client_id": client_id, "merchant_id": merchant_id})


async def assign(world: World) -> Request:
    params = {"client_id": await _new_client(world), "kind": "product"}
    return Request(params={**params, "item_id": await _product(world)})


async def unassign(world: World) -> Request:
    client_id, code = await _new_client(world), await _product(world)
    response = await world.http.put(
        f"/admin/clients/{client_id}/catalogue/product/{code}", headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return Request(params={"client_id": client_id, "kind": "product", "item_id": code})


async def create_merchant(world: World) -> Request:
    body = {
        "name": "Boundaries",
        "handle": unique("bnd"),
        "time_zone": "America/New_York",
        "enrol_unknown_members": False,
    }
    return Request(body=body)


async def patch_merchant(world: World) -> Request:
    body = {"name": "Renamed", "time_zone": "UTC", "enrol_unknown_members": False}
    return Request(params={"merchant_id": await _merchant(world)}, body=body)


async def create_location(world: World) -> Request:
    body = {
        "name": "Main Street",
        "street": "1 Main Street",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "phone": "+12175550100",
    }
    return Request(params={"merchant_id": await _merchant(world)}, body=body)


async def create_business_unit(world: World) -> Request:
    return Request(params={"merchant_id": await _merchant(world)}, body={"name": unique("unit")})


async def create_member(world: World) -> Request:
    body = {
        "email": f"{unique('m')}@example.com",
        "phone": None,
        "loyalty_id": unique("L"),
        "account_id": str(uuid.uuid4()),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "status": "active",
        "external_ids": {"crm": unique("crm")},
    }
    return Request(
        params={"merchant_id": await _merchant(world)},
        body=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


async def import_members(world: World) -> Request:
    body = f"email,first_name\n{unique('i')}@example.com,Ada\n"
    return Request(params={"merchant_id": await _merchant(world)}, body=body)


async def member_status(world: World) -> Request:
    return Request(
        params={"member_id": world.objects["admin.member_id"]}, body={"status": "active"}
    )


async def create_template(world: World) -> Request:
    return Request(params={"merchant_id": await _merchant(world)}, body=_template_body())


async def publish(world: World) -> Request:
    return Request(params={"template_id": await _template(world)})


async def create_product(world: World) -> Request:
    return Request(body=_product_body())


async def patch_product(world: World) -> Request:
    body = {
        "name": "Renamed",
        "description": "Still ten dollars",
        "terms": "Terms",
        "image_url": "https://img.example/ten.png",
        "stock": 100,
        "validity_days": 30,
        "state": "active",
    }
    return Request(params={"code": await _product(world)}, body=body)


async def create_endpoint(world: World) -> Request:
    body = {
        "url": "http://127.0.0.1:9/hooks",
        "description": "Boundaries",
        "event_types": [],
        "max_attempts": 3,
        "headers": {"X-Team": "rewards"},
        "enabled": True,
    }
    return Request(params={"client_id": await _client(world)}, body=body)


async def patch_endpoint(world: World) -> Request:
    body = {"description": "Renamed", "max_attempts": 3, "enabled": True}
    params = {
        "endpoint_id": await once(world, "boundaries.admin.endpoint", lambda: _endpoint(world))
    }
    return Request(params=params, body=body)


async def delete_endpoint(world: World) -> Request:
    return Request(params={"endpoint_id": await _endpoint(world)})


async def rotate_secret(world: World) -> Request:
    params = {
        "endpoint_id": await once(world, "boundaries.admin.endpoint", lambda: _endpoint(world))
    }
    return Request(params=params, body={"overlap_seconds": 60})


async def replay(world: World) -> Request:
    params = {
        "endpoint_id": await once(world, "boundaries.admin.endpoint", lambda: _endpoint(world))
    }
    return Request(params=params, body={"since": "2026-01-01T00:00:00Z"})


async def redeem(world: World) -> Request:
    body = {"amount": 100, "reference": "till-1", "location": "Main Street"}
    return Request(params={"code": await _voucher(world)}, body=body)


async def void(world: World) -> Request:
    return Request(params={"code": await _voucher(world)}, body={"reason": "lost"})


async def create_loyalty_reward(world: World) -> Request:
    body = {"reward_id": unique("R"), "name": "Points", "max_per_transaction": 100, "enabled": True}
    return Request(params={"merchant_id": await _merchant(world)}, body=body)


async def patch_loyalty_reward(world: World) -> Request:
    body = {"name": "Renamed", "max_per_transaction": 50, "enabled": True}
    return Request(params={"reward_id": await _loyalty_reward(world)}, body=body)


async def feature(world: World) -> Request:
    return Request(params={"client_id": await _client(world)}, body={"enabled": True})


async def create_fault_rule(world: World) -> Request:
    body = {
        "kind": "rate_limit",
        "count": 1,
        "route": "GET /partner/merchants",
        "params": {"retry_after": 1},
    }
    return Request(params={"client_id": await _client(world)}, body=body)


async def delete_fault_rule(world: World) -> Request:
    client_id = await _client(world)
    rule = await _post(world, f"/admin/clients/{client_id}/faults", {"kind": "slow", "count": 1})
    return Request(params={"client_id": client_id, "rule_id": str(rule["id"])})


async def open_run(world: World) -> Request:
    return Request(
        params={"client_id": await _new_client(world)},
        body={"surface": "partner", "faults": False},
    )


async def close_run(world: World) -> Request:
    client_id = await _new_client(world)
    run = await _post(
        world, f"/admin/clients/{client_id}/certification/runs", {"surface": "operator"}
    )
    return Request(params={"client_id": client_id, "run_id": str(run["id"])})


ATTESTED_ITEM = "partner.submission.demo"


async def attest(world: World) -> Request:
    params = {"client_id": await _new_client(world), "item_id": ATTESTED_ITEM}
    return Request(params=params, body={"note": "Demonstrated live on 7 Dec"})


async def withdraw(world: World) -> Request:
    client_id = await _new_client(world)
    path = f"/admin/clients/{client_id}/certification/attestations/{ATTESTED_ITEM}"
    made = await world.http.put(path, json={"note": "Demonstrated"}, headers=ADMIN)
    assert made.status_code == 200, made.text
    return Request(params={"client_id": client_id, "item_id": ATTESTED_ITEM})


TEMPLATE_MEMBERS = (("discount.type", "string"), ("discount.value", "integer"))

OPERATIONS = [
    Operation("POST", "/admin/clients", create_client),
    Operation("PATCH", "/admin/clients/{client_id}", patch_client),
    Operation("POST", "/admin/clients/{client_id}/credentials", create_credential),
    Operation(
        "POST", "/admin/clients/{client_id}/credentials/{credential_id}/rotate", rotate_credential
    ),
    Operation(
        "POST", "/admin/clients/{client_id}/credentials/{credential_id}/revoke", revoke_credential
    ),
    Operation("POST", "/admin/clients/{client_id}/merchants", grant),
    Operation("DELETE", "/admin/clients/{client_id}/merchants/{merchant_id}", ungrant),
    Operation("PUT", "/admin/clients/{client_id}/catalogue/{kind}/{item_id}", assign),
    Operation("DELETE", "/admin/clients/{client_id}/catalogue/{kind}/{item_id}", unassign),
    Operation("POST", "/admin/merchants", create_merchant),
    Operation("PATCH", "/admin/merchants/{merchant_id}", patch_merchant),
    Operation("POST", "/admin/merchants/{merchant_id}/locations", create_location),
    Operation("POST", "/admin/merchants/{merchant_id}/business_units", create_business_unit),
    Operation("POST", "/admin/merchants/{merchant_id}/members", create_member),
    Operation(
        "POST", "/admin/merchants/{merchant_id}/members/import", import_members, media="text/csv"
    ),
    Operation("POST", "/admin/members/{member_id}/status", member_status),
    Operation(
        "POST",
        "/admin/merchants/{merchant_id}/reward_templates",
        create_template,
        undocumented=TEMPLATE_MEMBERS,
    ),
    Operation("POST", "/admin/reward_templates/{template_id}/publish", publish),
    Operation("POST", "/admin/reward_templates/{template_id}/unpublish", publish),
    Operation("POST", "/admin/products", create_product),
    Operation("PATCH", "/admin/products/{code}", patch_product),
    Operation("POST", "/admin/clients/{client_id}/webhook_endpoints", create_endpoint),
    Operation("PATCH", "/admin/webhook_endpoints/{endpoint_id}", patch_endpoint),
    Operation("DELETE", "/admin/webhook_endpoints/{endpoint_id}", delete_endpoint),
    Operation("POST", "/admin/webhook_endpoints/{endpoint_id}/rotate_secret", rotate_secret),
    Operation("POST", "/admin/webhook_endpoints/{endpoint_id}/replay", replay),
    Operation("POST", "/admin/vouchers/{code}/redeem", redeem),
    Operation("POST", "/admin/vouchers/{code}/void", void),
    Operation("POST", "/admin/merchants/{merchant_id}/loyalty_rewards", create_loyalty_reward),
    Operation("PATCH", "/admin/loyalty_rewards/{reward_id}", patch_loyalty_reward),
    Operation("PUT", "/admin/clients/{client_id}/features/adhoc_reward", feature),
    Operation("POST", "/admin/clients/{client_id}/faults", create_fault_rule),
    Operation("DELETE", "/admin/clients/{client_id}/faults/{rule_id}", delete_fault_rule),
    Operation("POST", "/admin/clients/{client_id}/certification/runs", open_run),
    Operation("POST", "/admin/clients/{client_id}/certification/runs/{run_id}/close", close_run),
    Operation("PUT", "/admin/clients/{client_id}/certification/attestations/{item_id}", attest),
    Operation(
        "DELETE", "/admin/clients/{client_id}/certification/attestations/{item_id}", withdraw
    ),
]


@pytest.mark.parametrize(("operation", "target"), cases(OPERATIONS))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_admin_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    await check(world, operation, target, data.draw(values_for(target), label=str(target)))


@pytest.mark.parametrize(("operation", "target"), whole_cases(OPERATIONS))
async def test_admin_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
