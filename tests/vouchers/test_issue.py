"""Voucher issuance and retrieval on the Voucher API: ``POST /v3/products/{code}`` with its
``Idempotency-Key`` (replays, concurrent repeats, stock), and ``GET /v3/vouchers[/{id}]``."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bestow.app import build_runtime
from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.errors import Invalid, NotFound
from bestow.models import Product, Voucher, VoucherOrder
from bestow.oauth import tokens
from bestow.surfaces.vouchers import errors as vendor
from bestow.surfaces.vouchers import vouchers as api
from bestow.vouchers import errors, issuing, lookup, products, redemption, status, usage
from tests.conftest import ACTOR, app_on, make_settings
from tests.oauth.helpers import (
    VOUCHER_SCOPES,
    change_client,
    claims,
    issue,
)
from tests.vouchers.helpers import (
    UNTIL,
    create,
    fixed,
    login,
    new_key,
    post,
    vendor_error,
    voucher_client,
)

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{16}$")  # Crockford's base 32: no I, L, O, U
SHORT_CODE = re.compile(r"^[0-9a-hjkmnp-tv-z]{10}$")
PIN = re.compile(r"^[0-9]{6}$")
EXPIRATION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
VOUCHER_KEYS = {
    "voucher_code",
    "voucher_id",
    "name",
    "status",
    "expiration",
    "currency",
    "remaining_amount",
    "product_code",
    "product_name",
    "is_value_based",
    "is_status_available",
    "is_multiple_use",
    "url",
    "short_url",
    "short_url_pin",
}
OPEN_RANGE = "face_value is required for open-value products, in cents, 100 to 100000"
OUT_OF_RANGE = "face_value is out of range for this product: in cents, 100 to 100000"
ONLY_OPEN = "face_value is only accepted for open-value products"
NOT_CENTS = "face_value must be an integer number of cents"


# --- Helpers ---------------------------------------------------------------------------------


def issued(response: httpx.Response, count: int, status: int = 200) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ({"vouchers"} if status == 200 else {"vouchers", "error"})
    vouchers: list[dict[str, Any]] = body["vouchers"]
    assert len(vouchers) == count
    return vouchers


async def voucher_count(runtime: Runtime, client_id: str) -> int:
    async with runtime.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.client_id == client_id)
        )
    return int(count or 0)


async def stock_of(runtime: Runtime, code: str) -> int | None:
    async with runtime.db.session() as session:
        return await session.scalar(select(Product.stock).where(Product.code == code))


def ids_of(vouchers: list[dict[str, Any]]) -> list[str]:
    return [v["voucher_id"] for v in vouchers]


async def retrieve(
    client: httpx.AsyncClient, headers: dict[str, str], ids: list[str]
) -> httpx.Response:
    return await client.get("/v3/vouchers", params={"id": ",".join(ids)}, headers=headers)


async def open_value(runtime: Runtime, **over: Any) -> Product:
    product: Product = await create(
        runtime,
        **fixed(
            **{
                "name": "${FV} Harbour Coffee Voucher",
                "is_open_value": True,
                "face_value": None,
                **over,
            }
        ),
    )
    return product


async def product_based(runtime: Runtime, **over: Any) -> Product:
    product: Product = await create(
        runtime,
        **fixed(
            **{
                "name": "5 Cups of Coffee",
                "is_value_based": False,
                "is_multiple_use": True,
                "currency": "",
                "face_value": None,
                "item_quantity": 5,
                **over,
            }
        ),
    )
    return product


def end_of_day_after(days: int) -> set[str]:
    """The expiration of a voucher issued now with ``validity_days`` (either side of midnight)."""
    today = datetime.now(UTC).date()
    return {
        datetime.combine(day + timedelta(days=days), time(23, 59, 59), tzinfo=UTC).strftime(
            "%Y-%m-%dT%H:%M:%S+00:00"
        )
        for day in (today - timedelta(days=1), today)
    }


# --- Errors, each with its code --------------------------------------------------------------


async def test_the_idempotency_key_is_required_and_a_uuid(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime)

    for key in ("", "   "):
        sent = headers if not key else {**headers, "Idempotency-Key": key}
        response = await app_client.post(
            f"/v3/products/{product.code}", json={"quantity": 1}, headers=sent
        )
        vendor_error(response, 400, "400-9A0", vendor.MISSING_KEY)
    for key in ("not-a-uuid", "1234", str(uuid.uuid4())[:-1], str(uuid.uuid4()) + "0"):
        response = await post(app_client, headers, product.code, key=key)
        vendor_error(response, 400, "400-BB4", vendor.KEY_NOT_UUID)
    # The key is checked before the body.
    vendor_error(
        await post(app_client, headers, product.code, content=b"{", key=""), 400, "400-9A0"
    )
    vendor_error(
        await post(app_client, headers, product.code, content=b"{", key="nope"), 400, "400-BB4"
    )
    assert await voucher_count(runtime, client_id) == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[1]", b'"quantity"', b"1", b"null", b"\xff\xfe"],
    ids=["empty", "broken", "array", "string", "number", "null", "not-utf8"],
)
async def test_a_body_that_is_not_a_json_object_is_400_4c3(
    app_client: httpx.AsyncClient, runtime: Runtime, content: bytes
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime, "issue_vouchers")
    response = await post(app_client, headers, product.code, content=content)
    vendor_error(response, 400, "400-4C3", vendor.BAD_BODY)
    assert await voucher_count(runtime, client_id) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": None},
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": 21},
        {"quantity": 1000},
        {"quantity": "1"},
        {"quantity": 1.0},
        {"quantity": True},
        {"quantity": [1]},
    ],
    ids=repr,
)
async def test_a_quantity_outside_1_to_20_is_400_5dc(
    app_client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any]
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime, "issue_vouchers")
    response = await post(app_client, headers, product.code, body)
    vendor_error(response, 400, "400-5DC", vendor.BAD_QUANTITY)
    assert await voucher_count(runtime, client_id) == 0


async def test_face_value_errors_are_400_056(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    opened = await open_value(runtime)
    fixed_value = await create(runtime, **fixed())
    items = await product_based(runtime)
    client_id, headers = await login(app_client, runtime, "issue_vouchers")

    cases: list[tuple[str, dict[str, Any], str]] = [
        (opened.code, {"quantity": 1}, OPEN_RANGE),
        (opened.code, {"quantity": 1, "face_value": None}, OPEN_RANGE),
        (opened.code, {"quantity": 1, "face_value": 99}, OUT_OF_RANGE),
        (opened.code, {"quantity": 1, "face_value": 0}, OUT_OF_RANGE),
        (opened.code, {"quantity": 1, "face_value": -1051}, OUT_OF_RANGE),
        (opened.code, {"quantity": 1, "face_value": 100_001}, OUT_OF_RANGE),
        (opened.code, {"quantity": 1, "face_value": "1051"}, NOT_CENTS),
        (opened.code, {"quantity": 1, "face_value": 10.51}, NOT_CENTS),
        (opened.code, {"quantity": 1, "face_value": 1051.0}, NOT_CENTS),
        (opened.code, {"quantity": 1, "face_value": True}, NOT_CENTS),
        (fixed_value.code, {"quantity": 1, "face_value": 1000}, ONLY_OPEN),
        (fixed_value.code, {"quantity": 1, "face_value": 1051}, ONLY_OPEN),
        (items.code, {"quantity": 1, "face_value": 5}, ONLY_OPEN),
    ]
    for code, body, message in cases:
        vendor_error(await post(app_client, headers, code, body), 400, "400-056", message)
    assert await voucher_count(runtime, client_id) == 0

    # The bounds themselves are accepted.
    for value in (100, 100_000):
        body = {"quantity": 1, "face_value": value}
        [voucher] = issued(await post(app_client, headers, opened.code, body), 1)
        assert voucher["remaining_amount"] == value


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"quantity": 1, "allow_partail": true}', "allow_partail is not a known field"),
        (b'{"quantity": 1, "Quantity": 2}', "Quantity is not a known field"),
        (
            b'{"quantity": 1, "face_value": ' + b"9" * 5000 + b"}",
            "A number in the request body is out of range",
        ),
    ],
    ids=["misspelt-allow-partial", "wrong-case", "5000-digits"],
)
async def test_unknown_fields_and_unholdable_numbers_are_400_4c3_naming_them(
    app_client: httpx.AsyncClient, runtime: Runtime, content: bytes, message: str
) -> None:
    """A misspelt ``allow_partial`` was dropped silently: the request then issued nothing when
    stock was short, instead of what was left."""
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime, "issue_vouchers")
    response = await post(app_client, headers, product.code, content=content)
    vendor_error(response, 400, "400-4C3", message)
    assert await voucher_count(runtime, client_id) == 0


async def test_a_face_value_past_64_bits_is_out_of_range(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    opened = await open_value(runtime)
    _, headers = await login(app_client, runtime, "issue_vouchers")
    response = await post(app_client, headers, opened.code, {"quantity": 1, "face_value": 2**63})
    vendor_error(response, 400, "400-056", "face_value is out of range")


async def test_a_narrower_open_range_is_the_products(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    opened = await open_value(runtime, min_face_value=500, max_face_value=2000)
    _, headers = await login(app_client, runtime, "issue_vouchers")
    message = "face_value is out of range for this product: in cents, 500 to 2000"
    for value in (499, 2001):
        response = await post(
            app_client, headers, opened.code, {"quantity": 1, "face_value": value}
        )
        vendor_error(response, 400, "400-056", message)
    issued(await post(app_client, headers, opened.code, {"quantity": 2, "face_value": 500}), 2)


async def test_an_unknown_or_archived_product_is_404(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    archived = await create(runtime, **fixed())
    async with runtime.db.write_session() as session:
        await products.update_product(session, code=archived.code, actor=ACTOR, state="archived")
        await session.commit()
    client_id, headers = await login(app_client, runtime, "issue_vouchers")
    for code in (archived.code, "NOPE_" + uuid.uuid4().hex[:8]):
        response = await post(app_client, headers, code)
        vendor_error(response, 404, "404-000", f"product {code} not found")
    assert await voucher_count(runtime, client_id) == 0


async def test_checks_run_key_body_product_face_value_then_stock(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    empty = await open_value(runtime, stock=0)
    _, headers = await login(app_client, runtime, "issue_vouchers")
    unknown = "NOPE_" + uuid.uuid4().hex[:8]
    # The body before the product.
    vendor_error(await post(app_client, headers, unknown, {"quantity": 0}), 400, "400-5DC")
    vendor_error(await post(app_client, headers, unknown, content=b"[]"), 400, "400-4C3")
    # The product before face_value: an unknown code with a face value is 404.
    vendor_error(await post(app_client, headers, unknown, {"quantity": 1}), 404, "404-000")
    # face_value before the stock.
    vendor_error(await post(app_client, headers, empty.code, {"quantity": 1}), 400, "400-056")
    body = {"quantity": 1, "face_value": 1051}
    vendor_error(
        await post(app_client, headers, empty.code, body), 400, "400-0C6", vendor.NOT_ENOUGH_STOCK
    )


async def test_allow_partial_must_be_a_boolean(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    _, headers = await login(app_client, runtime, "issue_vouchers")
    for value in ("yes", 1, None):
        response = await post(
            app_client, headers, product.code, {"quantity": 1, "allow_partial": value}
        )
        vendor_error(response, 400, "400-000", "allow_partial must be true or false")


# --- Issuing each product type ---------------------------------------------------------------


async def test_a_fixed_value_voucher_has_every_field(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    product = await create(runtime, **fixed(name="$10 Harbour Coffee Voucher", currency="SGD"))
    _, headers = await login(app_client, runtime)

    [voucher] = issued(await post(app_client, headers, product.code, {"quantity": 1}), 1)

    assert set(voucher) == VOUCHER_KEYS
    assert CODE.match(voucher["voucher_code"]), voucher
    assert str(uuid.UUID(voucher["voucher_id"])) == voucher["voucher_id"]
    assert voucher["name"] == "$10 Harbour Coffee Voucher"
    assert voucher["status"] == "active"
    assert EXPIRATION.match(voucher["expiration"]), voucher
    assert voucher["expiration"] in end_of_day_after(30)
    assert (voucher["currency"], voucher["remaining_amount"]) == ("SGD", 1000)
    assert (voucher["product_code"], voucher["product_name"]) == (product.code, product.name)
    assert (voucher["is_value_based"], voucher["is_status_available"]) == (True, True)
    assert voucher["is_multiple_use"] is False
    base = settings.public_url.rstrip("/")
    assert voucher["url"] == f"{base}/v/{voucher['voucher_code']}"
    prefix, _, short = voucher["short_url"].rpartition("/")
    assert prefix == f"{base}/s" and SHORT_CODE.match(short), voucher
    assert PIN.match(voucher["short_url_pin"]), voucher

    got = await app_client.get(f"/v3/vouchers/{voucher['voucher_id']}", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json() == voucher


async def test_twenty_vouchers_have_unique_codes_links_and_ids(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime)

    vouchers = issued(await post(app_client, headers, product.code, {"quantity": 20}), 20)

    for field in ("voucher_code", "voucher_id", "url", "short_url"):
        assert len({v[field] for v in vouchers}) == 20, field
    assert all(CODE.match(v["voucher_code"]) for v in vouchers)
    assert len({v["expiration"] for v in vouchers}) == 1
    assert await voucher_count(runtime, client_id) == 20
    async with runtime.db.session() as session:
        stored = await session.scalars(select(Voucher.code).where(Voucher.client_id == client_id))
        assert set(stored) == {v["voucher_code"] for v in vouchers}


@pytest.mark.parametrize(
    ("name", "currency", "face_value", "expected"),
    [
        ("${FV} Harbour Coffee Voucher", "SGD", 1051, "$10.51 Harbour Coffee Voucher"),
        ("Harbour Coffee Voucher", "SGD", 1051, "$10.51 Harbour Coffee Voucher"),
        ("Gift of ${FV} at Harbour", "USD", 100_000, "Gift of $1,000.00 at Harbour"),
        ("${FV} Café", "EUR", 500, "€5.00 Café"),
        ("${FV} Shop", "GBP", 100, "£1.00 Shop"),
        ("${FV} Chocolate", "CHF", 1200, "CHF 12.00 Chocolate"),
    ],
)
async def test_an_open_value_voucher_carries_its_denomination(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    name: str,
    currency: str,
    face_value: int,
    expected: str,
) -> None:
    product = await open_value(runtime, name=name, currency=currency)
    _, headers = await login(app_client, runtime)

    response = await post(
        app_client, headers, product.code, {"quantity": 2, "face_value": face_value}
    )

    for voucher in issued(response, 2):
        assert voucher["name"] == expected
        assert voucher["product_name"] == name
        assert (voucher["currency"], voucher["remaining_amount"]) == (currency, face_value)
        assert (voucher["is_value_based"], voucher["is_multiple_use"]) == (True, False)


async def test_a_fixed_product_with_the_placeholder_names_its_value(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(name="${FV} Voucher", face_value=2500))
    _, headers = await login(app_client, runtime)
    [voucher] = issued(await post(app_client, headers, product.code, {"quantity": 1}), 1)
    assert voucher["name"] == "$25.00 Voucher"


async def test_a_product_based_voucher_counts_items_without_currency(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await product_based(runtime, validity_days=None, valid_until=UNTIL)
    _, headers = await login(app_client, runtime)

    vouchers = issued(await post(app_client, headers, product.code, {"quantity": 3}), 3)

    for voucher in vouchers:
        assert voucher["name"] == "5 Cups of Coffee"
        assert (voucher["currency"], voucher["remaining_amount"]) == ("", 5)
        assert (voucher["is_value_based"], voucher["is_multiple_use"]) == (False, True)
        assert voucher["expiration"] == "2031-01-31T16:00:00+00:00"


async def test_a_gift_card_is_a_multiple_use_value_voucher(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(
        runtime, **fixed(name="$50 eGift Card", face_value=5000, is_multiple_use=True)
    )
    _, headers = await login(app_client, runtime)
    [voucher] = issued(await post(app_client, headers, product.code, {"quantity": 1}), 1)
    assert (voucher["name"], voucher["currency"], voucher["remaining_amount"]) == (
        "$50 eGift Card",
        "SGD",
        5000,
    )
    assert (voucher["is_value_based"], voucher["is_multiple_use"]) == (True, True)


# --- Idempotent recovery ---------------------------------------------------------------------


async def test_a_replay_returns_the_same_vouchers_with_idempotency_record(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await open_value(runtime)
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    body = {"quantity": 3, "face_value": 1051}

    first = await post(app_client, headers, product.code, body, key=key)
    vouchers = issued(first, 3)
    assert "idempotency-record" not in first.headers
    assert await voucher_count(runtime, client_id) == 3
    async with runtime.db.session() as session:
        order = await session.scalar(
            select(VoucherOrder).where(
                VoucherOrder.client_id == client_id, VoucherOrder.idempotency_key == key
            )
        )
    assert order is not None and order.issued_count == 3

    for sent in (key, key.upper(), "{" + key + "}", key.replace("-", "")):
        again = await post(app_client, headers, product.code, body, key=sent)
        assert again.status_code == 200, again.text
        assert again.json() == {"vouchers": vouchers}, sent
        assert again.headers["idempotency-record"] == api.rfc3339(order.created_at)
        assert EXPIRATION.match(again.headers["idempotency-record"])
    assert await voucher_count(runtime, client_id) == 3


async def test_a_replay_reports_the_vouchers_as_they_are_now(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    [voucher] = issued(await post(app_client, headers, product.code, {"quantity": 1}, key=key), 1)
    async with runtime.db.write_session() as session:
        await redemption.redeem(session, code=voucher["voucher_code"], amount=None, actor="test")
        await session.commit()

    again = await post(app_client, headers, product.code, {"quantity": 1}, key=key)

    [now] = issued(again, 1)
    assert now == voucher | {"status": "used", "remaining_amount": 0}
    assert "idempotency-record" in again.headers
    assert await voucher_count(runtime, client_id) == 1


async def test_twenty_concurrent_repeats_of_one_key_issue_once(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await open_value(runtime, stock=100)
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    body = {"quantity": 4, "face_value": 1051}

    responses = await asyncio.gather(
        *(post(app_client, headers, product.code, body, key=key) for _ in range(20))
    )

    bodies = [issued(r, 4) for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert sum("idempotency-record" not in r.headers for r in responses) == 1
    assert await voucher_count(runtime, client_id) == 4
    assert await stock_of(runtime, product.code) == 96


async def test_concurrent_service_calls_with_one_key_overlap_and_issue_once(
    database_url: str, var_dir: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty transactions open at once (a barrier holds them on PostgreSQL, where each has
    its own connection), all calling ``issuing.issue`` with one key: one order, one set."""
    product = await create(runtime, **fixed(stock=50))
    client_id, _ = await voucher_client(runtime)
    key = new_key()
    lookups: list[bool] = []  # whether each look-up of the key's order found it
    find_order = issuing._order

    async def counted(session: Any, client: str, wanted: str) -> Any:
        found = await find_order(session, client, wanted)
        lookups.append(found is not None)
        return found

    monkeypatch.setattr(issuing, "_order", counted)
    wide = build_runtime(make_settings(database_url, var_dir, db_pool_size=25))
    overlap = not wide.settings.is_sqlite
    barrier = asyncio.Barrier(20)

    async def one() -> issuing.Issued:
        async with wide.db.write_session() as session:
            if overlap:  # SQLite's BEGIN IMMEDIATE would wait here: its writers never overlap.
                await session.execute(select(1))
                await barrier.wait()
            result = await issuing.issue(
                session,
                client_id=client_id,
                key=key,
                product_code=product.code,
                quantity=5,
                face_value=None,
                billable=False,
            )
            await session.commit()
            return result

    try:
        results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(20))), 60)
    finally:
        await wide.db.dispose()

    assert len({r.order.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    if overlap:
        # Some met the first on the order's unique key (inserted nothing, then read its order).
        assert len(lookups) > 20, lookups
    codes = [[v.code for v in r.vouchers] for r in results]
    assert all(c == codes[0] for c in codes) and len(set(codes[0])) == 5
    assert await voucher_count(runtime, client_id) == 5
    assert await stock_of(runtime, product.code) == 45


async def test_a_key_reused_for_another_request_is_422(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    opened = await open_value(runtime, stock=50)
    other = await open_value(runtime)
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    body = {"quantity": 2, "face_value": 1051}
    vouchers = issued(await post(app_client, headers, opened.code, body, key=key), 2)

    changed: list[tuple[str, dict[str, Any]]] = [
        (other.code, body),
        (opened.code, {**body, "quantity": 3}),
        (opened.code, {**body, "quantity": 1}),
        (opened.code, {**body, "face_value": 1052}),
        (opened.code, {**body, "allow_partial": True}),
    ]
    for code, sent in changed:
        response = await post(app_client, headers, code, sent, key=key)
        vendor_error(response, 422, "422-000", vendor.KEY_REUSED)
    # allow_partial false is the default: the same request.
    same = await post(app_client, headers, opened.code, {**body, "allow_partial": False}, key=key)
    assert issued(same, 2) == vouchers
    assert await voucher_count(runtime, client_id) == 2
    assert await stock_of(runtime, opened.code) == 48


async def test_the_same_key_from_two_clients_is_two_issuances(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    first_id, first = await login(app_client, runtime)
    second_id, second = await login(app_client, runtime)
    key = new_key()

    one = await post(app_client, first, product.code, {"quantity": 2}, key=key)
    two = await post(app_client, second, product.code, {"quantity": 3}, key=key)

    mine, theirs = issued(one, 2), issued(two, 3)
    assert "idempotency-record" not in one.headers and "idempotency-record" not in two.headers
    assert not set(ids_of(mine)) & set(ids_of(theirs))
    assert (await voucher_count(runtime, first_id), await voucher_count(runtime, second_id)) == (
        2,
        3,
    )
    replay = await post(app_client, second, product.code, {"quantity": 3}, key=key)
    assert issued(replay, 3) == theirs


async def test_a_refused_request_records_nothing_and_may_be_retried_with_its_key(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await open_value(runtime)
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    vendor_error(
        await post(app_client, headers, product.code, {"quantity": 1}, key=key), 400, "400-056"
    )
    body = {"quantity": 1, "face_value": 2000}
    retried = await post(app_client, headers, product.code, body, key=key)
    issued(retried, 1)
    assert "idempotency-record" not in retried.headers
    assert await voucher_count(runtime, client_id) == 1


# --- Stock -----------------------------------------------------------------------------------


async def test_the_exact_stock_is_issued_then_400_0c6(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(stock=5))
    client_id, headers = await login(app_client, runtime)

    issued(await post(app_client, headers, product.code, {"quantity": 5}), 5)

    assert await stock_of(runtime, product.code) == 0
    refused = await post(app_client, headers, product.code, {"quantity": 1})
    vendor_error(refused, 400, "400-0C6", vendor.NOT_ENOUGH_STOCK)
    catalogue = await app_client.get(f"/v3/products/{product.code}", headers=headers)
    assert catalogue.json()["in_stock"] is False
    assert await voucher_count(runtime, client_id) == 5


async def test_beyond_the_stock_nothing_is_issued(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(stock=3))
    client_id, headers = await login(app_client, runtime)
    key = new_key()

    refused = await post(app_client, headers, product.code, {"quantity": 4}, key=key)

    vendor_error(refused, 400, "400-0C6", vendor.NOT_ENOUGH_STOCK)
    assert await stock_of(runtime, product.code) == 3
    assert await voucher_count(runtime, client_id) == 0
    # Nothing was recorded under the key: a smaller request may use it.
    issued(await post(app_client, headers, product.code, {"quantity": 3}, key=key), 3)
    assert await stock_of(runtime, product.code) == 0


async def test_allow_partial_issues_what_is_left_with_207_762(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(stock=2))
    client_id, headers = await login(app_client, runtime)
    key = new_key()
    body = {"quantity": 5, "allow_partial": True}

    response = await post(app_client, headers, product.code, body, key=key)

    vouchers = issued(response, 2, status=207)
    assert response.json()["error"] == {
        "status": 207,
        "code": "207-762",
        "message": f"{api.PARTIAL}: 3 of the 5 vouchers asked for could not be issued, "
        "for lack of stock",
    }
    assert await stock_of(runtime, product.code) == 0
    assert await voucher_count(runtime, client_id) == 2

    again = await post(app_client, headers, product.code, body, key=key)
    assert issued(again, 2, status=207) == vouchers
    assert again.json()["error"]["code"] == "207-762"
    assert "idempotency-record" in again.headers

    empty = await post(app_client, headers, product.code, body)
    vendor_error(empty, 400, "400-0C6", vendor.NOT_ENOUGH_STOCK)
    assert await voucher_count(runtime, client_id) == 2


async def test_allow_partial_with_enough_stock_is_a_plain_200(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(stock=4))
    _, headers = await login(app_client, runtime)
    body = {"quantity": 4, "allow_partial": True}
    issued(await post(app_client, headers, product.code, body), 4)
    assert await stock_of(runtime, product.code) == 0


@pytest.mark.parametrize("allow_partial", [False, True], ids=["whole", "partial"])
async def test_concurrent_issuance_never_oversells(
    app_client: httpx.AsyncClient, runtime: Runtime, allow_partial: bool
) -> None:
    """On PostgreSQL concurrent issuances of one product must queue on its stock, not deadlock:
    the order row's foreign key holds a KEY SHARE lock on the product before ``take_stock``
    asks for FOR UPDATE, which conflicts with the other transactions' KEY SHARE locks."""
    product = await create(runtime, **fixed(stock=25))
    client_id, headers = await login(app_client, runtime)
    body = {"quantity": 3, "allow_partial": allow_partial}

    responses = await asyncio.gather(
        *(post(app_client, headers, product.code, body) for _ in range(12))
    )

    statuses = sorted(r.status_code for r in responses)
    total = sum(len(r.json()["vouchers"]) for r in responses if r.status_code in (200, 207))
    for response in responses:
        if response.status_code == 400:
            vendor_error(response, 400, "400-0C6")
    if allow_partial:
        assert statuses == [200] * 8 + [207] + [400] * 3
        assert total == 25
    else:
        assert statuses == [200] * 8 + [400] * 4
        assert total == 24
    assert await voucher_count(runtime, client_id) == total
    assert await stock_of(runtime, product.code) == 25 - total


async def test_concurrent_service_issuance_never_oversells(
    database_url: str, var_dir: Path, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(stock=30))
    client_id, _ = await voucher_client(runtime)
    wide = build_runtime(make_settings(database_url, var_dir, db_pool_size=25))
    overlap = not wide.settings.is_sqlite
    barrier = asyncio.Barrier(15)

    async def one() -> int:
        async with wide.db.write_session() as session:
            if overlap:
                await session.execute(select(1))
                await barrier.wait()
            try:
                result = await issuing.issue(
                    session,
                    client_id=client_id,
                    key=new_key(),
                    product_code=product.code,
                    quantity=4,
                    face_value=None,
                    billable=False,
                )
            except errors.OutOfStock:
                return 0
            await session.commit()
            return len(result.vouchers)

    try:
        counts = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(15))), 60)
    finally:
        await wide.db.dispose()

    assert sorted(counts) == [0] * 8 + [4] * 7
    assert await voucher_count(runtime, client_id) == 28
    assert await stock_of(runtime, product.code) == 2


# --- Tokens ----------------------------------------------------------------------------------


async def test_every_route_needs_a_live_token_with_its_scope(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    client_id, headers = await login(app_client, runtime)
    [voucher] = issued(await post(app_client, headers, product.code), 1)
    vid = voucher["voucher_id"]

    async def call(route: str, auth: dict[str, str]) -> httpx.Response:
        if route == "issue":
            return await post(app_client, auth, product.code)
        if route == "one":
            return await app_client.get(f"/v3/vouchers/{vid}", headers=auth)
        return await retrieve(app_client, auth, [vid])

    scope_of = {"issue": "issue_vouchers", "one": "read_vouchers", "list": "read_vouchers"}
    cred = claims(runtime, headers["Authorization"].split()[1])["cred"]
    good = issue(runtime, client_id, list(VOUCHER_SCOPES), cred=cred)
    head, payload, signature = good.split(".")
    expired = issue(
        runtime,
        client_id,
        list(VOUCHER_SCOPES),
        cred=cred,
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    short = issue(
        runtime,
        client_id,
        list(VOUCHER_SCOPES),
        cred=cred,
        now=datetime.now(UTC) - timedelta(seconds=60 + tokens.LEEWAY_SECONDS + 5),
        lifetime=timedelta(seconds=60),
    )
    for route, scope in scope_of.items():
        assert (await call(route, headers)).status_code == 200, route
        vendor_error(await call(route, {}), 401, "401-000")
        vendor_error(await call(route, {"Authorization": "Basic abc"}), 401, "401-000")
        for token in (expired, short):
            vendor_error(
                await call(route, {"Authorization": f"Bearer {token}"}),
                401,
                "401-000",
                "The access token has expired",
            )
        for token in (
            f"{head}.{payload[:-2]}xx.{signature}",
            f"{head}.{payload}.{signature[::-1]}",
        ):
            vendor_error(
                await call(route, {"Authorization": f"Bearer {token}"}),
                401,
                "401-000",
                "The access token is invalid",
            )
        others = [s for s in VOUCHER_SCOPES if s != scope]
        narrow = {"Authorization": f"Bearer {issue(runtime, client_id, others, cred=cred)}"}
        vendor_error(
            await call(route, narrow),
            403,
            "403-000",
            f"The access token does not carry the {scope} scope",
        )
        # A client without the scope gets no token carrying it either.
        _, lacking = await login(app_client, runtime, *others)
        vendor_error(await call(route, lacking), 403, "403-000")
    assert await voucher_count(runtime, client_id) == 2


async def test_a_suspended_client_is_refused_on_every_route(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, auth_cache_seconds=0)
    async with app_on(settings) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        product = await create(runtime, **fixed())
        client_id, headers = await login(client, runtime)
        [voucher] = issued(await post(client, headers, product.code), 1)
        await change_client(runtime, client_id, status="suspended")
        message = "The access token is no longer valid"
        vendor_error(await post(client, headers, product.code), 401, "401-000", message)
        one = await client.get(f"/v3/vouchers/{voucher['voucher_id']}", headers=headers)
        vendor_error(one, 401, "401-000", message)
        vendor_error(await retrieve(client, headers, [voucher["voucher_id"]]), 401, "401-000")
        assert await voucher_count(runtime, client_id) == 1


# --- Retrieving vouchers ---------------------------------------------------------------------


async def test_vouchers_are_retrieved_one_or_many_in_the_order_asked(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    fixed_value = await create(runtime, **fixed())
    opened = await open_value(runtime)
    _, headers = await login(app_client, runtime)
    vouchers = issued(await post(app_client, headers, fixed_value.code, {"quantity": 12}), 12)
    body = {"quantity": 8, "face_value": 1051}
    vouchers += issued(await post(app_client, headers, opened.code, body), 8)
    by_id = {v["voucher_id"]: v for v in vouchers}

    for vid in ids_of(vouchers)[:3]:
        one = await app_client.get(f"/v3/vouchers/{vid}", headers=headers)
        assert one.status_code == 200, one.text
        assert one.json() == by_id[vid]

    wanted = list(reversed(ids_of(vouchers)))
    listed = await retrieve(app_client, headers, wanted)
    assert listed.status_code == 200, listed.text
    assert [v["voucher_id"] for v in listed.json()] == wanted
    assert listed.json() == [by_id[i] for i in wanted]

    # Upper case and spaces around the ids are read as the same ids.
    loose = await app_client.get(
        "/v3/vouchers",
        params={"id": f" {wanted[0].upper()} , {wanted[1]}"},
        headers=headers,
    )
    assert loose.status_code == 200, loose.text
    assert ids_of(loose.json()) == wanted[:2]


async def test_another_clients_or_an_unknown_voucher_is_404(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    _, mine = await login(app_client, runtime)
    _, theirs = await login(app_client, runtime)
    [own] = issued(await post(app_client, mine, product.code), 1)
    [other] = issued(await post(app_client, theirs, product.code), 1)
    unknown = str(uuid.uuid4())

    for vid in (other["voucher_id"], unknown, "not-a-uuid"):
        response = await app_client.get(f"/v3/vouchers/{vid}", headers=mine)
        vendor_error(response, 404, "404-000", f"voucher {vid} not found")
    for asked, missing in (
        ([own["voucher_id"], other["voucher_id"]], other["voucher_id"]),
        ([unknown, own["voucher_id"]], unknown),
    ):
        response = await retrieve(app_client, mine, asked)
        vendor_error(response, 404, "404-000", f"voucher {missing} not found")
    assert (await retrieve(app_client, theirs, [other["voucher_id"]])).status_code == 200


async def test_bad_id_lists_are_refused_with_their_codes(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed())
    _, headers = await login(app_client, runtime)
    vouchers = issued(await post(app_client, headers, product.code, {"quantity": 20}), 20)
    ids = ids_of(vouchers)
    not_uuids = "id must be a comma-separated list of UUIDs"

    missing = await app_client.get("/v3/vouchers", headers=headers)
    vendor_error(missing, 400, "400-67B", not_uuids)
    for raw in ("", " ", "nope", f"{ids[0]},", f"{ids[0]};{ids[1]}", f"{ids[0]},,{ids[1]}"):
        response = await app_client.get("/v3/vouchers", params={"id": raw}, headers=headers)
        vendor_error(response, 400, "400-67B", not_uuids)

    too_many = await retrieve(app_client, headers, [*ids, str(uuid.uuid4())])
    vendor_error(too_many, 400, "400-B32", "id accepts at most 20 values")

    for twice in ([ids[0], ids[1], ids[0]], [ids[0], ids[0].upper()]):
        response = await retrieve(app_client, headers, twice)
        vendor_error(response, 400, "400-215", "id values must be unique")

    twenty = await retrieve(app_client, headers, ids)
    assert twenty.status_code == 200, twenty.text
    assert twenty.json() == vouchers


async def test_without_status_a_voucher_reports_active_and_its_full_value(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    unknown_status = await create(
        runtime,
        **fixed(name="$20 Partner Store Voucher", face_value=2000, is_status_available=False),
    )
    gift = await create(runtime, **fixed(face_value=5000, is_multiple_use=True))
    single = await create(runtime, **fixed(face_value=1000))
    items = await product_based(runtime)
    _, headers = await login(app_client, runtime)
    [partner] = issued(await post(app_client, headers, unknown_status.code), 1)
    [card] = issued(await post(app_client, headers, gift.code), 1)
    [whole] = issued(await post(app_client, headers, single.code), 1)
    [cups] = issued(await post(app_client, headers, items.code), 1)
    assert partner["is_status_available"] is False

    async with runtime.db.write_session() as session:
        for code, amount in (
            (partner["voucher_code"], None),
            (card["voucher_code"], 1250),
            (whole["voucher_code"], None),
            (cups["voucher_code"], 2),
        ):
            await redemption.redeem(session, code=code, amount=amount, actor="merchant")
        await session.commit()

    ids = ids_of([partner, card, whole, cups])
    listed = await retrieve(app_client, headers, ids)
    assert listed.status_code == 200, listed.text
    state = {v["voucher_id"]: (v["status"], v["remaining_amount"]) for v in listed.json()}
    assert state == {
        partner["voucher_id"]: ("active", 2000),
        card["voucher_id"]: ("active", 3750),
        whole["voucher_id"]: ("used", 0),
        cups["voucher_id"]: ("active", 3),
    }
    one = await app_client.get(f"/v3/vouchers/{partner['voucher_id']}", headers=headers)
    assert one.json() == partner
    async with runtime.db.session() as session:
        stored = await lookup.by_code(session, partner["voucher_code"])
        assert (stored.status, stored.remaining_amount) == ("used", 0)
        assert status.merchant_status(stored) == "used"


async def test_a_voided_voucher_reports_voided_unless_status_is_unavailable(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    unknown_status = await create(runtime, **fixed(is_status_available=False))
    known = await create(runtime, **fixed())
    _, headers = await login(app_client, runtime)
    [hidden] = issued(await post(app_client, headers, unknown_status.code), 1)
    [shown] = issued(await post(app_client, headers, known.code), 1)
    async with runtime.db.write_session() as session:
        for voucher in (hidden, shown):
            await redemption.void(session, code=voucher["voucher_code"], actor="merchant")
        await session.commit()
    listed = await retrieve(app_client, headers, ids_of([hidden, shown]))
    assert [(v["status"], v["remaining_amount"]) for v in listed.json()] == [
        ("active", 1000),
        ("voided", 1000),
    ]


# --- Billing ---------------------------------------------------------------------------------


async def billable_flags(runtime: Runtime, client_id: str) -> list[bool]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Voucher.billable).where(Voucher.client_id == client_id))
        return list(rows)


@pytest.mark.parametrize(
    ("environment", "billable"),
    [("sandbox", False), ("uat", False), ("production", True)],
)
async def test_vouchers_are_billable_in_production_only(
    database_url: str, var_dir: Path, environment: str, billable: bool
) -> None:
    settings = make_settings(database_url, var_dir, environment=environment)
    async with app_on(settings) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        product = await create(runtime, **fixed())
        client_id, headers = await login(client, runtime)
        issued(await post(client, headers, product.code, {"quantity": 2}), 2)
        assert await billable_flags(runtime, client_id) == [billable, billable]
        usage = await usage_lines(runtime, client_id)
        assert usage == ([(product.code, 2, 2000)] if billable else [])


async def usage_lines(runtime: Runtime, client_id: str) -> list[tuple[str, int, int]]:
    async with runtime.db.session() as session:
        lines = await usage.usage(session, client_id=client_id)
    return [(line.product_code, line.count, line.face_value_total) for line in lines]


async def test_the_service_refuses_what_the_route_checks_first(runtime: Runtime) -> None:
    """``issuing.issue`` keeps its own guards for callers other than the route."""
    product = await create(runtime, **fixed())
    client_id, _ = await voucher_client(runtime)
    async with runtime.db.write_session() as session:
        with pytest.raises(NotFound):
            await issuing.issue(
                session,
                client_id=client_id,
                key=new_key(),
                product_code="NOPE_" + uuid.uuid4().hex[:8],
                quantity=1,
                face_value=None,
                billable=False,
            )
        for quantity in (0, 21):
            with pytest.raises(Invalid, match="quantity"):
                await issuing.issue(
                    session,
                    client_id=client_id,
                    key=new_key(),
                    product_code=product.code,
                    quantity=quantity,
                    face_value=None,
                    billable=False,
                )
