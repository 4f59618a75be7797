"""The recipient's voucher pages: ``url`` opens the voucher, ``short_url`` asks for its PIN."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from bestow.deps import Runtime
from bestow.models import Voucher
from bestow.vouchers import issuing, links, products, redemption
from tests.conftest import ACTOR, unique


async def _voucher(runtime: Runtime, **product: Any) -> Voucher:
    fields = {
        "code": unique("PG").replace("-", "_"),
        "name": "${FV} Page Voucher",
        "is_value_based": True,
        "is_open_value": True,
        "is_status_available": True,
        "is_multiple_use": True,
        "currency": "SGD",
        "validity_days": 10,
        "terms": "Not <b>exchangeable</b> for cash",
        **product,
    }
    async with runtime.db.write_session() as session:
        made = await products.create_product(session, actor=ACTOR, **fields)
        issued = await issuing.issue(
            session,
            client_id=unique("cli"),
            key=str(uuid.uuid4()),
            product_code=made.code,
            quantity=1,
            face_value=1051,
            billable=False,
        )
        await session.commit()
    return issued.vouchers[0]


async def _redeem(runtime: Runtime, code: str, amount: int) -> None:
    async with runtime.db.write_session() as session:
        await redemption.redeem(session, code=code, amount=amount, actor="test")
        await session.commit()


async def test_the_url_shows_the_voucher_escaped_and_uncached(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    voucher = await _voucher(runtime)
    await _redeem(runtime, voucher.code, 51)
    # Typed by hand: lower case, with hyphens.
    typed = "-".join(voucher.code[i : i + 4] for i in range(0, 16, 4)).lower()
    page = await app_client.get(f"/v/{typed}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "$10.51 Page Voucher" in page.text and voucher.code in page.text
    assert "$10.00" in page.text  # what is left after 51 cents
    assert "&lt;b&gt;exchangeable&lt;/b&gt;" in page.text and "<b>" not in page.text


async def test_a_product_without_status_shows_no_status_or_balance(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    voucher = await _voucher(runtime, is_status_available=False)
    await _redeem(runtime, voucher.code, 1051)
    page = await app_client.get(f"/v/{voucher.code}")
    assert page.status_code == 200
    assert "Status" not in page.text and "Remaining" not in page.text
    assert "used" not in page.text


async def test_the_short_url_needs_the_pin(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    voucher = await _voucher(runtime)
    form = await app_client.get(f"/s/{voucher.short_code}")
    assert form.status_code == 200 and 'name="pin"' in form.text
    assert voucher.code not in form.text
    pin = links.pin_of(voucher, runtime.sealer)
    wrong = "000000" if pin != "000000" else "111111"
    refused = await app_client.post(f"/s/{voucher.short_code}", data={"pin": wrong})
    assert refused.status_code == 403 and voucher.code not in refused.text
    opened = await app_client.post(f"/s/{voucher.short_code}", data={"pin": pin})
    assert opened.status_code == 200 and voucher.code in opened.text


async def test_unknown_links_are_html_404s(app_client: httpx.AsyncClient) -> None:
    for path in ("/v/0000000000000000", "/s/zzzzzzzzzz"):
        response = await app_client.get(path)
        assert response.status_code == 404
        assert "Voucher not found" in response.text
    assert (await app_client.post("/s/zzzzzzzzzz", data={"pin": "1"})).status_code == 404
