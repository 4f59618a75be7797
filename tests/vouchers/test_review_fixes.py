"""Edges found in review: a product past its date issues nothing, a till's references are its
own, the redeem body is required, a short link locks after ten wrong PINs, long names and long
references are refused or cut rather than failing, and revocation leaves expired vouchers be."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.models import Product, Voucher
from bestow.vouchers import issuing, links, redemption
from tests.vouchers.helpers import (
    MERCHANT,
    create,
    fixed,
    issue_vouchers,
    login,
    stored,
    till,
    voucher_error,
)


async def _past_due(runtime: Runtime, product: Product) -> None:
    """Move the product's fixed date into the past, as time does (the API refuses to set it)."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Product)
            .where(Product.id == product.id)
            .values(valid_until=utcnow() - timedelta(minutes=1))
        )
        await session.commit()


async def test_a_product_past_its_date_is_out_of_the_catalogue_and_issues_nothing(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    until = utcnow() + timedelta(days=1)
    product = await create(runtime, **fixed(validity_days=None, valid_until=until))
    _, headers = await login(app_client, runtime, "read_catalogue", "issue_vouchers")
    assert (
        await app_client.get(f"/v3/products/{product.code}", headers=headers)
    ).status_code == 200

    await _past_due(runtime, product)
    voucher_error(await app_client.get(f"/v3/products/{product.code}", headers=headers), 404)
    listed = await app_client.get("/v3/products", headers=headers)
    assert product.code not in [p["code"] for p in listed.json()]
    issued = await app_client.post(
        f"/v3/products/{product.code}",
        json={"quantity": 1},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    voucher_error(issued, 404)

    with pytest.raises(Invalid, match="future"):
        await create(
            runtime, **fixed(validity_days=None, valid_until=datetime(2020, 1, 1, tzinfo=UTC))
        )


async def test_a_reference_is_a_till_s_own_and_the_redeem_body_is_required(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    gift = await create(runtime, **fixed(is_multiple_use=True, face_value=5000))
    [voucher] = await issue_vouchers(runtime, gift)
    till_a, till_b = await till(app_client, runtime), await till(app_client, runtime)
    path = f"{MERCHANT}/{voucher.code}/redeem"
    body = {"amount": 1000, "reference": "1001"}

    first = await app_client.post(path, json=body, headers=till_a)
    other_till = await app_client.post(path, json=body, headers=till_b)
    repeat = await app_client.post(path, json=body, headers=till_a)
    assert (first.status_code, other_till.status_code, repeat.status_code) == (200, 200, 200)
    assert "Idempotency-Record" not in other_till.headers
    assert other_till.json()["redemption"]["id"] != first.json()["redemption"]["id"]
    assert repeat.json()["redemption"]["id"] == first.json()["redemption"]["id"]
    assert (await stored(runtime, voucher.code)).remaining_amount == 3000

    for empty in (b"", b"null"):
        refused = await app_client.post(
            path, content=empty, headers={**till_a, "Content-Type": "application/json"}
        )
        voucher_error(refused, 400)
    voucher_error(await app_client.post(path, json={"reference": "x" * 101}, headers=till_a), 400)
    assert (await stored(runtime, voucher.code)).remaining_amount == 3000
    everything = await app_client.post(path, json={}, headers=till_a)
    assert everything.json()["voucher"]["status"] == "used", everything.text


async def test_the_service_refuses_long_references_and_locations(runtime: Runtime) -> None:
    [voucher] = await issue_vouchers(runtime, await create(runtime, **fixed()))
    for field in ("reference", "location"):
        async with runtime.db.write_session() as session:
            with pytest.raises(Invalid) as refused:
                await redemption.redeem(
                    session, code=voucher.code, amount=None, actor="cli", **{field: "x" * 101}
                )
        assert refused.value.field == field
    assert (await stored(runtime, voucher.code)).remaining_amount == 1000


async def test_ten_wrong_pins_lock_the_short_link_and_the_count_is_atomic(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await create(runtime, **fixed()))
    path = f"/s/{voucher.short_code}"
    pin = links.pin_of(voucher, runtime.sealer)
    wrong = "000000" if pin != "000000" else "111111"
    burst = await asyncio.gather(*(app_client.post(path, data={"pin": wrong}) for _ in range(25)))
    statuses = sorted(r.status_code for r in burst)
    # Ten attempts are reserved one by one; the tenth failure locks; the rest never compare.
    assert statuses.count(403) == 9 and statuses.count(429) == 16, statuses
    locked = await app_client.post(path, data={"pin": pin})
    assert locked.status_code == 429 and voucher.code not in locked.text
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60

    async with runtime.db.write_session() as session:  # the lock runs out
        await session.execute(
            update(Voucher)
            .where(Voucher.id == voucher.id)
            .values(pin_locked_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    opened = await app_client.post(path, data={"pin": pin})
    assert opened.status_code == 200 and voucher.code in opened.text
    assert (await stored(runtime, voucher.code)).pin_failures == 0


async def test_a_long_open_value_name_is_cut_not_a_server_error(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(name="${FV}" * 40, is_open_value=True, face_value=None))
    _, headers = await login(app_client, runtime, "issue_vouchers")
    issued = await app_client.post(
        f"/v3/products/{product.code}",
        json={"quantity": 1, "face_value": 100_000},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.status_code == 200, issued.text
    name = issued.json()["vouchers"][0]["name"]
    assert len(name) == issuing.MAX_NAME and name.startswith("$1,000.00$1,000.00")


def test_driver_data_errors_are_a_400_not_a_500() -> None:
    """A bulk COPY talks to asyncpg directly: a value PostgreSQL refuses there (SQLSTATE class
    22, such as a string too long) is the request's fault, as through SQLAlchemy."""
    from bestow.surfaces.common import classify

    class DataError(Exception):
        sqlstate = "22021"

    assert classify(DataError("invalid byte sequence")).status == 400
    assert classify(RuntimeError("boom")).status == 500


async def test_revocation_leaves_expired_vouchers_expired(runtime: Runtime) -> None:
    """Two vouchers of one job, one past its expiry that the sweep has not reached yet."""
    from bestow.vouchers import kind

    [live, past] = await issue_vouchers(runtime, await create(runtime, **fixed()), quantity=2)
    job, now = f"job_{uuid.uuid4().hex[:20]}", utcnow()
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Voucher).where(Voucher.id.in_([live.id, past.id])).values(order_id=job)
        )
        await session.execute(
            update(Voucher).where(Voucher.id == past.id).values(expires_at=now - timedelta(hours=1))
        )
        assert kind.VOUCHER.revoke is not None
        await kind.VOUCHER.revoke(session, job, now)
        await session.commit()
    assert (await stored(runtime, live.code)).status == "voided"
    assert (await stored(runtime, past.code)).status == "active"  # the sweep makes it expired
