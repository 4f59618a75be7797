"""Admin API: every action audited, problem+json errors, cursor pagination, credential revocation,
member status and the CSV member import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, app_on, make_settings, unique
from tests.surfaces.admin.helpers import ADMIN, assert_problem, new_client, post

pytestmark = pytest.mark.asyncio

CSV = {**ADMIN, "Content-Type": "text/csv"}


async def new_merchant(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    merchant: dict[str, Any] = await post(
        client, "/admin/merchants", {"name": "Admin Test", "handle": unique("adm"), **fields}
    )
    return merchant


async def audit_actions(client: httpx.AsyncClient, target_type: str, target_id: str) -> list[str]:
    response = await client.get(
        "/admin/audit",
        params={"target_type": target_type, "target_id": target_id, "limit": 500},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    entries = response.json()["data"]
    assert all(entry["actor"] == "admin:env" for entry in entries)
    return [entry["action"] for entry in entries]


# Audit --------------------------------------------------------------------------------------


async def test_every_client_action_writes_an_audit_entry(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    created = await new_client(app_client)
    client_id = created["id"]
    base = f"/admin/clients/{client_id}"

    response = await app_client.patch(base, json={"name": "Renamed"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    issued = await post(app_client, f"{base}/credentials", {"kind": "partner_token"})
    rotated = await post(
        app_client, f"{base}/credentials/{issued['id']}/rotate", {"grace_seconds": 60}
    )
    await post(app_client, f"{base}/credentials/{rotated['id']}/revoke")
    await post(app_client, f"{base}/merchants", {"merchant_id": merchant["id"]})
    response = await app_client.delete(f"{base}/merchants/{merchant['id']}", headers=ADMIN)
    assert response.status_code == 204

    assert await audit_actions(app_client, "client", client_id) == [
        "client.created",
        "client.updated",
        "credential.issued",
        "credential.revoked",
        "credential.issued",
        "credential.revoked",
        "client.merchant_granted",
        "client.merchant_revoked",
    ]


async def test_every_merchant_action_writes_an_audit_entry(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    base = f"/admin/merchants/{merchant['id']}"

    response = await app_client.patch(base, json={"time_zone": "Europe/Paris"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    location = await post(app_client, f"{base}/locations", {"name": "Harbour"})
    unit = await post(app_client, f"{base}/business_units", {"name": "UNIT_A"})

    assert await audit_actions(app_client, "merchant", merchant["id"]) == [
        "merchant.created",
        "merchant.updated",
    ]
    assert await audit_actions(app_client, "location", location["id"]) == ["location.created"]
    assert await audit_actions(app_client, "business_unit", unit["id"]) == ["business_unit.created"]


async def test_member_actions_write_audit_entries_without_personal_data(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)
    member = await post(
        app_client,
        f"/admin/merchants/{merchant['id']}/members",
        {"email": "private@example.com", "phone": "+14155550123"},
    )
    await post(app_client, f"/admin/members/{member['id']}/status", {"status": "inactive"})

    response = await app_client.get(
        "/admin/audit", params={"target_type": "member", "target_id": member["id"]}, headers=ADMIN
    )
    entries = response.json()["data"]
    assert [e["action"] for e in entries] == ["member.created", "member.status_changed"]
    assert entries[1]["changes"] == {"from": "active", "to": "inactive"}
    assert "private@example.com" not in response.text
    assert "4155550123" not in response.text


# Members ------------------------------------------------------------------------------------


async def test_a_member_can_be_deactivated_and_reactivated(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    member = await post(
        app_client, f"/admin/merchants/{merchant['id']}/members", {"loyalty_id": "LOY-1"}
    )
    assert member["status"] == "active"

    inactive = await post(
        app_client, f"/admin/members/{member['id']}/status", {"status": "inactive"}
    )
    listed = await app_client.get(
        f"/admin/merchants/{merchant['id']}/members", params={"status": "inactive"}, headers=ADMIN
    )
    active = await post(app_client, f"/admin/members/{member['id']}/status", {"status": "active"})

    assert inactive["status"] == "inactive"
    assert [m["id"] for m in listed.json()["data"]] == [member["id"]]
    assert active["status"] == "active"
    fetched = await app_client.get(f"/admin/members/{member['id']}", headers=ADMIN)
    assert fetched.json()["status"] == "active"


async def test_an_unknown_member_status_is_a_400_problem(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    member = await post(
        app_client, f"/admin/merchants/{merchant['id']}/members", {"loyalty_id": "LOY-1"}
    )

    response = await app_client.post(
        f"/admin/members/{member['id']}/status", json={"status": "asleep"}, headers=ADMIN
    )

    assert_problem(response, 400, "status")


# Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/clients"),
        ("POST", "/admin/clients"),
        ("GET", "/admin/merchants"),
        ("GET", "/admin/audit"),
    ],
)
async def test_requests_without_a_token_are_401_problems(
    app_client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await app_client.request(method, path, json={} if method == "POST" else None)

    assert_problem(response, 401, "admin bearer token is required")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_import_without_a_token_is_a_401_problem(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import",
        content=b"email\na@example.com\n",
        headers={"Content-Type": "text/csv"},
    )

    assert_problem(response, 401, "admin bearer token is required")


async def test_a_wrong_token_is_a_401_problem(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(
        "/admin/clients", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    )

    assert_problem(response, 401, "Invalid admin token")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/admin/clients/cli_unknown", None),
        ("PATCH", "/admin/clients/cli_unknown", {"name": "x"}),
        ("GET", "/admin/clients/cli_unknown/credentials", None),
        ("POST", "/admin/clients/cli_unknown/credentials", {"kind": "partner_token"}),
        ("GET", "/admin/merchants/mer_unknown", None),
        ("PATCH", "/admin/merchants/mer_unknown", {"name": "x"}),
        ("POST", "/admin/merchants/mer_unknown/locations", {"name": "x"}),
        ("POST", "/admin/merchants/mer_unknown/members", {"loyalty_id": "L1"}),
        ("GET", "/admin/merchants/mer_unknown/members", None),
        ("GET", "/admin/members/mbr_unknown", None),
        ("POST", "/admin/members/mbr_unknown/status", {"status": "inactive"}),
    ],
)
async def test_unknown_ids_are_404_problems(
    app_client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await app_client.request(method, path, json=body, headers=ADMIN)

    assert_problem(response, 404, "not found")


async def test_an_unknown_credential_is_a_404_problem(app_client: httpx.AsyncClient) -> None:
    created = await new_client(app_client)

    response = await app_client.post(
        f"/admin/clients/{created['id']}/credentials/crd_unknown/revoke", headers=ADMIN
    )

    assert_problem(response, 404, "credential crd_unknown not found")


async def test_granting_an_unknown_merchant_is_a_404_problem(
    app_client: httpx.AsyncClient,
) -> None:
    created = await new_client(app_client)

    response = await app_client.post(
        f"/admin/clients/{created['id']}/merchants",
        json={"merchant_id": "mer_unknown"},
        headers=ADMIN,
    )

    assert_problem(response, 404, "merchant mer_unknown not found")


async def test_a_duplicate_handle_is_a_409_problem(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        "/admin/merchants", json={"name": "Again", "handle": merchant["handle"]}, headers=ADMIN
    )

    assert_problem(response, 409, "already taken")


async def test_a_duplicate_member_is_a_409_problem(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    path = f"/admin/merchants/{merchant['id']}/members"
    await post(app_client, path, {"email": "twice@example.com"})

    response = await app_client.post(path, json={"email": "TWICE@example.com"}, headers=ADMIN)

    assert_problem(response, 409)


async def test_an_unknown_field_is_a_400_problem_naming_it(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/admin/merchants",
        json={"name": "X", "handle": unique("adm"), "colour": "red"},
        headers=ADMIN,
    )

    assert_problem(response, 400, "colour: is not a known field")
    assert response.json()["field"] == "colour"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_bad_time_zone_is_a_400_problem(app_client: httpx.AsyncClient, method: str) -> None:
    path = "/admin/merchants"
    body: dict[str, Any] = {"name": "X", "handle": unique("adm"), "time_zone": "Mars/Olympus"}
    if method == "PATCH":
        path = f"/admin/merchants/{(await new_merchant(app_client))['id']}"
        body = {"time_zone": "Mars/Olympus"}

    response = await app_client.request(method, path, json=body, headers=ADMIN)

    assert_problem(response, 400, "unknown time zone 'Mars/Olympus'")
    assert response.json()["field"] == "time_zone"


async def test_a_non_json_body_is_a_415_problem(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/admin/merchants", content=b"name=x", headers={**ADMIN, "Content-Type": "text/plain"}
    )

    assert_problem(response, 415, "application/json")


async def test_a_bad_cursor_is_a_400_problem(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/admin/merchants", params={"cursor": "a"}, headers=ADMIN)

    assert_problem(response, 400, "cursor")


# Pagination ---------------------------------------------------------------------------------


async def test_cursor_pagination_walks_every_page_once(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)
    path = f"/admin/merchants/{merchant['id']}/members"
    created = {(await post(app_client, path, {"loyalty_id": f"PAGE-{i}"}))["id"] for i in range(7)}

    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await app_client.get(path, params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [m["id"] for m in page["data"]]
        sizes.append(len(page["data"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sizes == [3, 3, 1]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created
    assert seen == sorted(seen)


async def test_merchant_pages_hold_every_merchant_once(app_client: httpx.AsyncClient) -> None:
    mine = {(await new_merchant(app_client))["id"] for _ in range(4)}

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await app_client.get("/admin/merchants", params=params, headers=ADMIN)).json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen))
    assert mine <= set(seen)


# Credentials on the Partner API -------------------------------------------------------------


@pytest.fixture
async def uncached_client(database_url: str, var_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no partner authentication cache: a revocation shows on the next request."""
    async with app_on(make_settings(database_url, var_dir, auth_cache_seconds=0)) as client:
        yield client


async def test_a_revoked_partner_credential_stops_authenticating(
    uncached_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(uncached_client)
    created = await new_client(uncached_client)
    base = f"/admin/clients/{created['id']}"
    await post(uncached_client, f"{base}/merchants", {"merchant_id": merchant["id"]})
    issued = await post(uncached_client, f"{base}/credentials", {"kind": "partner_token"})
    partner = {
        "Authorization": f"Bearer {issued['secret']}",
        "X-ClientId": created["id"],
        "Accept-Version": "v4.0",
    }

    before = await uncached_client.get("/partner/merchants", headers=partner)
    await post(uncached_client, f"{base}/credentials/{issued['id']}/revoke")
    after = await uncached_client.get("/partner/merchants", headers=partner)

    assert before.status_code == 200, before.text
    assert [m["id"] for m in before.json()["merchants"]] == [merchant["id"]]
    assert after.status_code == 401
    assert after.json()["code"] == "AUTHENTICATION_GENERIC"


async def test_a_suspended_client_stops_authenticating(uncached_client: httpx.AsyncClient) -> None:
    created = await new_client(uncached_client)
    base = f"/admin/clients/{created['id']}"
    issued = await post(uncached_client, f"{base}/credentials", {"kind": "partner_token"})
    partner = {
        "Authorization": f"Bearer {issued['secret']}",
        "X-ClientId": created["id"],
        "Accept-Version": "v4.0",
    }
    before = await uncached_client.get("/partner/merchants", headers=partner)

    response = await uncached_client.patch(base, json={"status": "suspended"}, headers=ADMIN)
    after = await uncached_client.get("/partner/merchants", headers=partner)

    assert response.json()["status"] == "suspended"
    assert (before.status_code, after.status_code) == (200, 401)


async def test_a_credential_list_never_shows_secrets(app_client: httpx.AsyncClient) -> None:
    created = await new_client(app_client)
    issued = await post(
        app_client, f"/admin/clients/{created['id']}/credentials", {"kind": "oauth_secret"}
    )

    response = await app_client.get(f"/admin/clients/{created['id']}/credentials", headers=ADMIN)

    assert [c["id"] for c in response.json()] == [issued["id"]]
    assert issued["secret"] not in response.text
    assert "secret" not in response.json()[0]


# Member import ------------------------------------------------------------------------------


async def test_the_import_endpoint_imports_good_rows_and_returns_bad_ones(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)
    body = (
        "email,phone,loyalty_id,external:pos\n"
        "a@example.com,+14155550100,L1,p1\n"
        "nope,+14155550101,L2,p2\n"
        "A@example.com,+14155550102,L3,p3\n"
        "c@example.com,+12125550100,L4,p4\n"
    )

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import", content=body.encode(), headers=CSV
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": 4,
        "imported": 2,
        "failed": 2,
        "errors": [
            {"line": 3, "reason": "invalid email"},
            {"line": 4, "reason": "email repeats line 2"},
        ],
    }
    listed = await app_client.get(f"/admin/merchants/{merchant['id']}/members", headers=ADMIN)
    assert sorted(m["email"] for m in listed.json()["data"]) == ["a@example.com", "c@example.com"]
    audit = await app_client.get(
        "/admin/audit",
        params={"target_type": "merchant", "target_id": merchant["id"]},
        headers=ADMIN,
    )
    imported = [e for e in audit.json()["data"] if e["action"] == "members.imported"]
    assert [e["changes"] for e in imported] == [{"rows": 4, "imported": 2, "failed": 2}]


async def test_the_import_endpoint_accepts_a_charset_and_a_byte_order_mark(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import",
        content="\ufeffloyalty_id\r\nL1\r\n".encode(),
        headers={**ADMIN, "Content-Type": "text/csv; charset=utf-8"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 1


async def test_the_import_endpoint_wants_a_csv_body(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import",
        json={"email": "a@example.com"},
        headers=ADMIN,
    )

    assert_problem(response, 415, "text/csv")


async def test_an_unknown_csv_column_is_a_400_problem(app_client: httpx.AsyncClient) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import",
        content=b"email,favourite_colour\na@example.com,red\n",
        headers=CSV,
    )

    assert_problem(response, 400, "unknown columns: favourite_colour")
    assert response.json()["field"] == "header"
    listed = await app_client.get(f"/admin/merchants/{merchant['id']}/members", headers=ADMIN)
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"", "header row"), ("email\nzo\u00eb@example.com\n".encode("latin-1"), "UTF-8")],
)
async def test_an_unreadable_csv_body_is_a_400_problem(
    app_client: httpx.AsyncClient, body: bytes, detail: str
) -> None:
    merchant = await new_merchant(app_client)

    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/members/import", content=body, headers=CSV
    )

    assert_problem(response, 400, detail)


async def test_importing_into_an_unknown_merchant_is_a_404_problem(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.post(
        "/admin/merchants/mer_unknown/members/import", content=b"email\na@b.co\n", headers=CSV
    )

    assert_problem(response, 404, "merchant mer_unknown not found")


async def test_the_import_endpoint_is_described_in_openapi(app_client: httpx.AsyncClient) -> None:
    schema = (await app_client.get("/openapi.json")).json()

    operation = schema["paths"]["/admin/merchants/{merchant_id}/members/import"]["post"]

    assert "text/csv" in operation["requestBody"]["content"]


async def _templates(client: httpx.AsyncClient, merchant_id: str) -> list[dict[str, Any]]:
    path = f"/admin/merchants/{merchant_id}/reward_templates"
    response = await client.get(path, headers=ADMIN)
    assert response.status_code == 200, response.text
    templates: list[dict[str, Any]] = response.json()["data"]
    return templates


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"kind": "discount", "config": {"type": "percent", "value": 10}},
            "a discount template has no config; its reward is given in discount",
        ),
        ({"kind": "discount"}, "discount is required for a discount template"),
        ({}, "discount is required for a discount template"),
        (
            {"discount": {"type": "percent", "value": 10, "cap": 5}},
            "discount holds type and value, not cap",
        ),
        ({"discount": {"type": "amount", "value": 10**30}}, "discount: must not hold integers"),
        ({"discount": {"type": "amount", "value": 2**63}}, "discount: must not hold integers"),
        (
            {"kind": "voucher", "config": {"product_code": "P", "face_value": 10**30}},
            "config: must not hold integers beyond 64 bits",
        ),
        ({"kind": "points", "config": {"points": 2**64}}, "config: must not hold integers"),
        ({"discount": {"type": "free_item", "value": None}, "name": "A\x00B"}, "control"),
    ],
    ids=[
        "discount-with-config",
        "discount-left-out",
        "kind-left-out",
        "discount-unknown-key",
        "value-10e30",
        "value-2e63",
        "config-10e30",
        "config-2e64",
        "nul-in-name",
    ],
)
async def test_a_template_refuses_what_does_not_apply_or_cannot_be_held(
    app_client: httpx.AsyncClient, body: dict[str, Any], detail: str
) -> None:
    merchant = await new_merchant(app_client)
    response = await app_client.post(
        f"/admin/merchants/{merchant['id']}/reward_templates",
        json={"name": "Ten off", **body},
        headers=ADMIN,
    )
    assert_problem(response, 400, detail)
    assert await _templates(app_client, merchant["id"]) == []


async def test_a_template_config_nested_past_the_encoders_limit_is_a_400(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)
    for depth in (40, 300):
        response = await app_client.post(
            f"/admin/merchants/{merchant['id']}/reward_templates",
            content=b'{"name": "Deep", "kind": "points", "config": {"points": 1, "x": '
            + b"[" * depth
            + b"]" * depth
            + b"}}",
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "nested more than 32 levels deep")
    assert await _templates(app_client, merchant["id"]) == []


async def test_a_discount_template_keeps_the_discount_it_was_given(
    app_client: httpx.AsyncClient,
) -> None:
    merchant = await new_merchant(app_client)
    created = await post(
        app_client,
        f"/admin/merchants/{merchant['id']}/reward_templates",
        {"name": "Ten off", "kind": "discount", "discount": {"type": "percent", "value": 10}},
    )
    assert (created["subtype"], created["discount"]) == (
        "percent",
        {"type": "percent", "value": 10},
    )


@pytest.mark.parametrize("clash", ["account_id", "external_id"])
async def test_a_member_with_a_taken_account_or_external_id_is_a_409_problem(
    app_client: httpx.AsyncClient, clash: str
) -> None:
    merchant = await new_merchant(app_client)
    path = f"/admin/merchants/{merchant['id']}/members"
    account_id = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b" if clash == "account_id" else None
    first = {"loyalty_id": unique("L"), "external_ids": {"operator": unique("player")}}
    if account_id:
        first["account_id"] = account_id
    created = await post(app_client, path, first)
    second: dict[str, Any] = {"loyalty_id": unique("L")}
    if clash == "account_id":
        second["account_id"] = created["account_id"]
    else:
        second["external_ids"] = first["external_ids"]
    response = await app_client.post(path, json=second, headers=ADMIN)
    assert_problem(response, 409)
    listed = await app_client.get(path, headers=ADMIN)
    assert [m["id"] for m in listed.json()["data"]] == [created["id"]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/merchants", {"name": "Nul\x00Shop", "handle": "nul-shop"}),
        ("/admin/clients", {"name": "Nul\x00Client", "scopes": ["rewards.issue"]}),
    ],
)
async def test_a_nul_character_is_refused_the_same_on_every_database(
    app_client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    """SQLite would store it and PostgreSQL refuse it: the field type refuses it first."""
    response = await app_client.post(path, json=body, headers=ADMIN)
    assert_problem(response, 400, "name: must not contain NUL or other control characters")
