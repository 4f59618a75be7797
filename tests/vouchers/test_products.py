"""The voucher catalogue: the product rules of the service, the Admin API and the CLI that manage
products, and the Voucher API's ``GET /v3/products`` that offers them to OAuth clients."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import get_settings
from bestow.deps import Runtime
from bestow.kit.errors import Conflict, Invalid
from bestow.models import Product
from bestow.vouchers import products
from tests.conftest import ACTOR, ADMIN_TOKEN
from tests.oauth.helpers import get_token, issue, oauth_client
from tests.vouchers.helpers import UNTIL, code, create, fixed, voucher_error

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# --- Service rules ---------------------------------------------------------------------------


async def test_each_product_type_is_valid(runtime: Runtime) -> None:
    fixed_value = await create(runtime, **fixed(min_face_value=5, item_quantity=3))
    assert products.product_type(fixed_value) == "fixed"
    assert (fixed_value.face_value, fixed_value.min_face_value, fixed_value.item_quantity) == (
        1000,
        None,
        None,
    )

    open_value = await create(runtime, **fixed(is_open_value=True, face_value=None))
    assert products.product_type(open_value) == "open_value"
    assert (open_value.face_value, open_value.min_face_value, open_value.max_face_value) == (
        None,
        100,
        100_000,
    )
    ranged = await create(
        runtime, **fixed(is_open_value=True, min_face_value=500, max_face_value=500)
    )
    assert (ranged.face_value, ranged.min_face_value, ranged.max_face_value) == (None, 500, 500)

    items = await create(
        runtime,
        **fixed(
            is_value_based=False,
            face_value=None,
            item_quantity=2,
            validity_days=None,
            valid_until=UNTIL,
        ),
    )
    assert products.product_type(items) == "product_based"
    assert (items.currency, items.face_value, items.item_quantity) == ("", None, 2)
    assert items.valid_until == UNTIL

    gift = await create(runtime, **fixed(is_multiple_use=True, stock=0))
    assert products.product_type(gift) == "gift_card"
    assert (gift.state, gift.stock) == ("active", 0)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"currency": ""}, "currency"),
        ({"currency": "sgd"}, "currency"),
        ({"face_value": None}, "face_value"),
        ({"face_value": 0}, "face_value"),
        ({"face_value": products.MAX_VALUE + 1}, "face_value"),
        ({"is_open_value": True, "min_face_value": 900, "max_face_value": 800}, "min_face_value"),
        ({"is_open_value": True, "max_face_value": products.MAX_VALUE + 1}, "min_face_value"),
        ({"is_value_based": False, "is_open_value": True, "item_quantity": 1}, "is_open_value"),
        ({"is_value_based": False}, "item_quantity"),
        ({"is_value_based": False, "item_quantity": 0}, "item_quantity"),
        ({"validity_days": None}, "validity_days"),
        ({"valid_until": UNTIL}, "validity_days"),
        ({"validity_days": 0}, "validity_days"),
        ({"validity_days": None, "valid_until": datetime(2031, 1, 1)}, "valid_until"),
        ({"stock": -1}, "stock"),
        ({"code": ""}, "code"),
        ({"code": "-starts-with-dash"}, "code"),
        ({"code": "has space"}, "code"),
        ({"code": "x" * 41}, "code"),
        ({"name": "   "}, "name"),
    ],
)
async def test_invalid_combinations_are_refused_with_their_field(
    runtime: Runtime, over: dict[str, Any], field: str
) -> None:
    fields = fixed(**over)
    with pytest.raises(Invalid) as refused:
        await create(runtime, **fields)
    assert refused.value.field == field
    async with runtime.db.session() as session:
        assert (
            await session.scalar(products.query(state=None).where(Product.code == fields["code"]))
            is None
        )


async def test_a_duplicate_code_is_a_conflict(runtime: Runtime) -> None:
    first = await create(runtime, **fixed())
    with pytest.raises(Conflict):
        await create(runtime, **fixed(code=first.code, name="Another"))


async def test_updates_keep_the_product_consistent(runtime: Runtime) -> None:
    product = await create(runtime, **fixed())
    async with runtime.db.write_session() as session:
        changed = await products.update_product(
            session, code=product.code, actor=ACTOR, valid_until=UNTIL, name=" Renamed "
        )
        assert (changed.validity_days, changed.valid_until, changed.name) == (
            None,
            UNTIL,
            "Renamed",
        )
        refusals: list[tuple[dict[str, Any], str]] = [
            ({"name": " "}, "name"),
            ({"terms": None}, "terms"),
            ({"stock": -5}, "stock"),
            ({"validity_days": 4000}, "validity_days"),
            ({"state": "deleted"}, "state"),
        ]
        for changes, field in refusals:
            with pytest.raises(Invalid) as refused:
                await products.update_product(session, code=product.code, actor=ACTOR, **changes)
            assert refused.value.field == field
        with pytest.raises(Invalid, match="cannot change face_value"):
            await products.update_product(session, code=product.code, actor=ACTOR, face_value=5)


# --- Admin API -------------------------------------------------------------------------------


def body(**over: Any) -> dict[str, Any]:
    """A fixed-value product in the Admin API: 5.00 SGD, valid 90 days."""
    return fixed(**{"name": "Coffee", "face_value": 500, "validity_days": 90, **over})


async def admin_create(client: httpx.AsyncClient, **over: Any) -> dict[str, Any]:
    response = await client.post("/admin/products", json=body(**over), headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://bestow.dev/problems/")
    if field is not None:
        assert problem["field"] == field, problem


@pytest.mark.parametrize(
    ("valid_until", "detail"),
    [
        (1_900_000_000, "ISO 8601"),
        ("1900000000", "ISO 8601"),
        ("2031-01-31T16:00:00", "offset"),
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("9999-12-31T23:59:59-12:00", "out of range"),
    ],
)
async def test_a_product_valid_until_is_iso_8601_with_an_offset_in_range(
    app_client: httpx.AsyncClient, valid_until: object, detail: str
) -> None:
    response = await app_client.post(
        "/admin/products",
        json=body(validity_days=None, valid_until=valid_until),
        headers=ADMIN,
    )
    assert_problem(response, 400, "valid_until")
    assert detail in response.json()["detail"]


async def test_admin_creates_lists_gets_and_patches_products(
    app_client: httpx.AsyncClient,
) -> None:
    created = await admin_create(
        app_client, terms="Valid at any outlet", image_url="https://img.test/c.png", stock=10
    )
    assert created["type"] == "fixed"
    assert created["state"] == "active"
    assert (created["currency"], created["face_value"], created["stock"]) == ("SGD", 500, 10)
    path = f"/admin/products/{created['code']}"

    got = await app_client.get(path, headers=ADMIN)
    assert got.status_code == 200, got.text
    assert got.json() == created

    patched = await app_client.patch(
        path,
        json={"name": "Large coffee", "stock": 0, "valid_until": "2031-01-31T16:00:00Z"},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    view = patched.json()
    assert (view["name"], view["stock"], view["validity_days"]) == ("Large coffee", 0, None)
    assert view["valid_until"].startswith("2031-01-31T16:00:00")

    archived = await app_client.patch(path, json={"state": "archived"}, headers=ADMIN)
    assert archived.json()["state"] == "archived"

    other = await admin_create(app_client, is_value_based=False, item_quantity=1, face_value=None)
    assert (other["type"], other["currency"]) == ("product_based", "")

    async def listed(**params: Any) -> list[str]:
        codes: list[str] = []
        cursor = None
        while True:
            page = await app_client.get(
                "/admin/products",
                params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})},
                headers=ADMIN,
            )
            assert page.status_code == 200, page.text
            codes += [p["code"] for p in page.json()["data"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return codes

    everything = await listed()
    assert {created["code"], other["code"]} <= set(everything)
    assert created["code"] in await listed(state="archived")
    assert created["code"] not in await listed(state="active")
    assert other["code"] in await listed(state="active")

    first = await app_client.get("/admin/products", params={"limit": 1}, headers=ADMIN)
    assert len(first.json()["data"]) == 1 and first.json()["next_cursor"]

    reactivated = await app_client.patch(path, json={"state": "active"}, headers=ADMIN)
    assert reactivated.json()["state"] == "active"


async def test_admin_errors_are_problems(app_client: httpx.AsyncClient) -> None:
    post = app_client.post
    assert_problem(
        await post("/admin/products", json=body(currency=""), headers=ADMIN), 400, "currency"
    )
    assert_problem(
        await post("/admin/products", json=body(face_value=None), headers=ADMIN), 400, "face_value"
    )
    assert_problem(
        await post("/admin/products", json=body(validity_days=None), headers=ADMIN),
        400,
        "validity_days",
    )
    assert_problem(await post("/admin/products", json=body(stock=-1), headers=ADMIN), 400)
    assert_problem(await post("/admin/products", json=body(colour="red"), headers=ADMIN), 400)
    created = await admin_create(app_client)
    assert_problem(
        await post("/admin/products", json=body(code=created["code"]), headers=ADMIN), 409
    )

    path = f"/admin/products/{created['code']}"
    assert_problem(await app_client.patch(path, json={"face_value": 1}, headers=ADMIN), 400)
    assert_problem(await app_client.patch(path, json={"state": "gone"}, headers=ADMIN), 400)
    assert_problem(await app_client.patch(path, json={"name": None}, headers=ADMIN), 400, "name")
    assert_problem(await app_client.get("/admin/products/NOPE_" + code(), headers=ADMIN), 404)
    assert_problem(
        await app_client.patch("/admin/products/NOPE_x", json={"stock": 1}, headers=ADMIN), 404
    )

    assert_problem(await post("/admin/products", json=body()), 401)
    assert_problem(await app_client.get("/admin/products"), 401)
    assert_problem(await app_client.get(path), 401)
    assert_problem(await app_client.patch(path, json={"stock": 1}), 401)
    unchanged = await app_client.get(path, headers=ADMIN)
    assert unchanged.json() == created


# --- CLI -------------------------------------------------------------------------------------

Invoke = Callable[..., Result]


@pytest.fixture
def cli(database_url: str, var_dir: Path) -> Iterator[Invoke]:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    env.pop("BESTOW_ADMIN_TOKEN", None)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    yield invoke


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_manages_products(cli: Invoke) -> None:
    fixed_code, open_code, items_code = code(), code(), code()
    created = ok(
        cli("products", "create", fixed_code, "--name", "Five", "--face-value", "500",
            "--validity-days", "30", "--stock", "3", "--terms", "T&C", "--json")
    )  # fmt: skip
    assert (created["type"], created["currency"], created["face_value"]) == ("fixed", "SGD", 500)
    assert (created["stock"], created["terms"], created["state"]) == (3, "T&C", "active")

    opened = ok(
        cli("products", "create", open_code, "--name", "Any", "--open-value", "--currency", "usd",
            "--min-face-value", "200", "--max-face-value", "900", "--multiple-use",
            "--no-status-available", "--valid-until", "2031-01-31T16:00:00+00:00", "--json")
    )  # fmt: skip
    assert (opened["type"], opened["currency"]) == ("gift_card", "USD")
    assert (opened["min_face_value"], opened["max_face_value"]) == (200, 900)
    assert opened["is_status_available"] is False
    assert opened["valid_until"].startswith("2031-01-31T16:00:00")

    items = ok(
        cli("products", "create", items_code, "--name", "Two coffees", "--product-based",
            "--quantity", "2", "--validity-days", "7", "--json")
    )  # fmt: skip
    assert (items["type"], items["currency"], items["item_quantity"]) == ("product_based", "", 2)

    shown = ok(cli("products", "show", fixed_code, "--json"))
    assert shown == created
    plain = cli("products", "show", fixed_code)
    assert plain.exit_code == 0 and fixed_code in plain.stdout and "fixed" in plain.stdout

    updated = ok(
        cli("products", "update", fixed_code, "--name", "Five dollars", "--unlimited-stock",
            "--valid-until", "2031-01-31T16:00:00Z", "--json")
    )  # fmt: skip
    assert (updated["name"], updated["stock"], updated["validity_days"]) == (
        "Five dollars",
        None,
        None,
    )

    assert ok(cli("products", "archive", fixed_code, "--json"))["state"] == "archived"
    archived = {p["code"] for p in ok(cli("products", "list", "--state", "archived", "--json"))}
    active = {p["code"] for p in ok(cli("products", "list", "--state", "active", "--json"))}
    assert fixed_code in archived and fixed_code not in active
    assert {open_code, items_code} <= active
    table = cli("products", "list")
    assert table.exit_code == 0 and items_code in table.stdout

    assert ok(cli("products", "activate", fixed_code, "--json"))["state"] == "active"


def test_cli_errors_exit_1_with_a_message(cli: Invoke) -> None:
    missing = cli("products", "create", code(), "--name", "No value", "--validity-days", "3")
    assert missing.exit_code == 1
    assert "face value" in missing.stderr
    both = cli("products", "create", code(), "--name", "Both", "--face-value", "1",
               "--validity-days", "3", "--valid-until", "2031-01-01T00:00:00Z")  # fmt: skip
    assert both.exit_code == 1 and "either" in both.stderr
    bad_time = cli("products", "create", code(), "--name", "X", "--valid-until", "soon")
    assert bad_time.exit_code == 1 and "ISO 8601" in bad_time.stderr
    unknown = cli("products", "show", "NOPE_" + code())
    assert unknown.exit_code == 1 and "not found" in unknown.stderr
    assert cli("products", "list", "--state", "gone").exit_code == 1
    assert cli("products", "update", "NOPE_x").exit_code == 1


# --- Voucher API -----------------------------------------------------------------------------


async def bearer(client: httpx.AsyncClient, runtime: Runtime, *scopes: str) -> dict[str, str]:
    client_id, secret, _ = await oauth_client(runtime, scopes)
    response = await get_token(client, client_id, secret)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_the_catalogue_offers_active_products(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    fixed_value = await create(
        runtime, **fixed(stock=5, terms="Terms", image_url="https://img.test/f.png")
    )
    opened = await create(
        runtime,
        **fixed(
            is_open_value=True,
            face_value=None,
            min_face_value=300,
            max_face_value=3000,
            is_multiple_use=True,
            is_status_available=False,
            currency="USD",
        ),
    )
    items = await create(
        runtime,
        **fixed(
            is_value_based=False,
            face_value=None,
            item_quantity=4,
            validity_days=None,
            valid_until=UNTIL,
            stock=0,
        ),
    )
    archived = await create(runtime, **fixed())
    async with runtime.db.write_session() as session:
        await products.update_product(session, code=archived.code, actor=ACTOR, state="archived")
        await session.commit()

    headers = await bearer(app_client, runtime, "read_catalogue")
    response = await app_client.get("/v3/products", headers=headers)
    assert response.status_code == 200, response.text
    catalogue = response.json()
    assert isinstance(catalogue, list)
    by_code = {p["code"]: p for p in catalogue}
    assert archived.code not in by_code
    assert [p["code"] for p in catalogue] == sorted(p["code"] for p in catalogue)

    assert by_code[fixed_value.code] == {
        "code": fixed_value.code,
        "name": "Ten dollars",
        "description": "",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 1000,
        "min_face_value": None,
        "max_face_value": None,
        "quantity": None,
        "validity": {"days": 30, "until": None},
        "in_stock": True,
        "terms_and_conditions": "Terms",
        "image": "https://img.test/f.png",
    }
    open_view = by_code[opened.code]
    assert (open_view["is_open_value"], open_view["is_multiple_use"]) == (True, True)
    assert open_view["is_status_available"] is False
    assert (open_view["currency"], open_view["face_value"]) == ("USD", None)
    assert (open_view["min_face_value"], open_view["max_face_value"]) == (300, 3000)
    assert open_view["in_stock"] is True

    item_view = by_code[items.code]
    assert (item_view["is_value_based"], item_view["currency"]) == (False, "")
    assert (item_view["face_value"], item_view["quantity"]) == (None, 4)
    assert item_view["validity"]["days"] is None
    assert datetime.fromisoformat(item_view["validity"]["until"]) == UNTIL
    assert item_view["in_stock"] is False

    one = await app_client.get(f"/v3/products/{fixed_value.code}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json() == by_code[fixed_value.code]

    voucher_error(await app_client.get(f"/v3/products/{archived.code}", headers=headers), 404)
    voucher_error(await app_client.get("/v3/products/NOPE_" + code(), headers=headers), 404)


async def test_the_catalogue_needs_a_live_token_with_read_catalogue(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    for path in ("/v3/products", f"/v3/products/{product.code}"):
        missing = await app_client.get(path)
        voucher_error(missing, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")

        garbage = await app_client.get(path, headers={"Authorization": "Bearer not-a-token"})
        voucher_error(garbage, 401)

        narrow = await bearer(app_client, runtime, "issue_vouchers")
        voucher_error(await app_client.get(path, headers=narrow), 403)

    client_id, _, cred = await oauth_client(runtime, ("read_catalogue",))
    expired = issue(
        runtime,
        client_id,
        ["read_catalogue"],
        cred=cred,
        now=datetime.now(UTC) - timedelta(hours=3),
    )
    refused = await app_client.get("/v3/products", headers={"Authorization": f"Bearer {expired}"})
    voucher_error(refused, 401)
    assert refused.headers["www-authenticate"].startswith("Bearer")
    live = issue(runtime, client_id, ["read_catalogue"], cred=cred)
    allowed = await app_client.get("/v3/products", headers={"Authorization": f"Bearer {live}"})
    assert allowed.status_code == 200, allowed.text
