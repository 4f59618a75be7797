"""The usage report that bills vouchers: ``GET /admin/voucher_usage`` (JSON and CSV), grouped by
month of issue, client and product, billable (production) issuances only unless ``all``."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx

from bestow.deps import Runtime
from bestow.models import Product
from tests.vouchers.helpers import ADMIN, APRIL, MARCH, create, fixed, issued_at

USAGE = "/admin/voucher_usage"


async def billing_history(runtime: Runtime) -> tuple[str, str, Product, Product]:
    """A client's vouchers over two months and two products, some of them not billable; and
    another client's beside them: (client id, other client id, product, items product)."""
    client_id, other = f"cli_{uuid.uuid4().hex[:20]}", f"cli_{uuid.uuid4().hex[:20]}"
    tens = await create(runtime, **fixed(validity_days=3650))
    items = await create(
        runtime,
        **fixed(
            is_value_based=False, face_value=None, currency="", item_quantity=5, validity_days=3650
        ),
    )
    await issued_at(runtime, tens, MARCH, count=3, billable=True, client_id=client_id)
    await issued_at(runtime, tens, MARCH, count=2, billable=False, client_id=client_id)
    await issued_at(runtime, items, MARCH, count=1, billable=True, client_id=client_id)
    await issued_at(runtime, tens, APRIL, count=4, billable=True, client_id=client_id)
    await issued_at(runtime, tens, APRIL, count=7, billable=True, client_id=other)
    return client_id, other, tens, items


async def report(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(USAGE, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    lines: list[dict[str, Any]] = response.json()
    return lines


def line(month: str, client_id: str, product: Product, count: int) -> dict[str, Any]:
    return {
        "month": month,
        "client_id": client_id,
        "product_code": product.code,
        "currency": product.currency,
        "count": count,
        "face_value_total": count * (product.face_value or product.item_quantity or 0),
    }


async def test_the_report_counts_billable_vouchers_per_month_client_and_product(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, other, tens, items = await billing_history(runtime)
    march_lines = sorted(
        [line("2031-03", client_id, tens, 3), line("2031-03", client_id, items, 1)],
        key=lambda x: x["product_code"],
    )
    assert await report(app_client, client_id=client_id) == [
        *march_lines,
        line("2031-04", client_id, tens, 4),
    ]
    assert await report(app_client, client_id=client_id, month="2031-04") == [
        line("2031-04", client_id, tens, 4)
    ]
    with_sandbox = await report(app_client, client_id=client_id, month="2031-03", all="true")
    assert line("2031-03", client_id, tens, 5) in with_sandbox
    assert await report(app_client, client_id=client_id, month="2031-05") == []

    april = await report(app_client, month="2031-04")
    assert line("2031-04", other, tens, 7) in april
    assert line("2031-04", client_id, tens, 4) in april


async def test_the_report_is_csv_on_request(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, _, tens, items = await billing_history(runtime)
    expected = [
        ["month", "client_id", "product_code", "currency", "count", "face_value_total"],
        *sorted(
            [
                ["2031-03", client_id, tens.code, "SGD", "3", "3000"],
                ["2031-03", client_id, items.code, "", "1", "5"],
            ],
            key=lambda row: row[2],
        ),
    ]
    params = {"client_id": client_id, "month": "2031-03"}
    by_format = await app_client.get(USAGE, params={**params, "format": "csv"}, headers=ADMIN)
    by_accept = await app_client.get(USAGE, params=params, headers={**ADMIN, "Accept": "text/csv"})
    for response in (by_format, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "voucher-usage-2031-03.csv" in response.headers["content-disposition"]
        assert list(csv.reader(io.StringIO(response.text))) == expected


async def test_the_report_refuses_bad_months_and_anonymous_callers(
    app_client: httpx.AsyncClient,
) -> None:
    for month in ("2031-13", "2031-3", "march"):
        refused = await app_client.get(USAGE, params={"month": month}, headers=ADMIN)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    bad_format = await app_client.get(USAGE, params={"format": "xml"}, headers=ADMIN)
    assert bad_format.status_code == 400
    assert (await app_client.get(USAGE)).status_code == 401
