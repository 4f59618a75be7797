"""Shared helpers of the voucher tests: products of the catalogue, an OAuth client that issues
vouchers, redemption at the till and the dates the tests use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from bestow.deps import Runtime
from bestow.kit.db import bulk_insert
from bestow.models import (
    Product,
    RewardTemplate,
    Voucher,
)
from bestow.vouchers import issuing, lookup, products
from tests.campaigns import kind_template
from tests.conftest import ACTOR, ADMIN_TOKEN, unique
from tests.oauth.helpers import (
    VOUCHER_SCOPES,
    get_token,
    oauth_client,
)


def code() -> str:
    return unique("P").replace("-", "_")


def fixed(**over: Any) -> dict[str, Any]:
    """Keyword arguments of a fixed-value product: 10.00 SGD, valid 30 days, unlimited stock."""
    return {
        "code": code(),
        "name": "Ten dollars",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 1000,
        "validity_days": 30,
        **over,
    }


async def create(runtime: Runtime, **fields: Any) -> Any:
    async with runtime.db.write_session() as session:
        product = await products.create_product(session, actor=ACTOR, **fields)
        await session.commit()
        return product


UNTIL = datetime(2031, 1, 31, 16, 0, tzinfo=UTC)


def voucher_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()
    assert set(error) == {"status", "code", "message"}
    assert (error["status"], error["code"]) == (status, f"{status}-000")
    assert error["message"]
    return error


async def voucher_client(
    runtime: Runtime, scopes: tuple[str, ...] = VOUCHER_SCOPES
) -> tuple[str, str]:
    """A client with an OAuth secret on the unlimited tier (the tests send bursts): (id, secret)."""
    client_id, secret, _ = await oauth_client(runtime, scopes, tier="unlimited", name="vouchers")
    return client_id, secret


async def login(
    app_client: httpx.AsyncClient, runtime: Runtime, *scopes: str
) -> tuple[str, dict[str, str]]:
    """A new client and the headers of a token from ``/oauth2/token``: (client id, headers)."""
    client_id, secret = await voucher_client(runtime, scopes or VOUCHER_SCOPES)
    response = await get_token(app_client, client_id, secret)
    assert response.status_code == 200, response.text
    return client_id, {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_key() -> str:
    return str(uuid.uuid4())


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    code: str,
    body: Any = None,
    *,
    key: str | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """``POST /v3/products/{code}``; a fresh key unless ``key`` is given ("" sends none)."""
    sent = dict(headers)
    key = new_key() if key is None else key
    if key:
        sent["Idempotency-Key"] = key
    if content is not None:
        sent["Content-Type"] = "application/json"
        return await client.post(f"/v3/products/{code}", content=content, headers=sent)
    return await client.post(
        f"/v3/products/{code}", json={"quantity": 1} if body is None else body, headers=sent
    )


def vendor_error(
    response: httpx.Response, status: int, code: str, message: str | None = None
) -> str:
    """The Voucher API's error: ``{"status", "code", "message"}``; the message returned."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"status": status, "code": code, "message": body["message"]}, body
    if message is not None:
        assert body["message"] == message
    assert body["message"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return str(body["message"])


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


MERCHANT = "/v3/merchant/vouchers"


async def till(app_client: httpx.AsyncClient, runtime: Runtime) -> dict[str, str]:
    """The headers of a merchant-side client (``redeem_vouchers``, unlimited tier)."""
    _, headers = await login(app_client, runtime, "redeem_vouchers")
    return headers


async def issue_vouchers(
    runtime: Runtime,
    product: Product,
    *,
    quantity: int = 1,
    face_value: int | None = None,
    billable: bool = False,
    client_id: str | None = None,
) -> list[Voucher]:
    """Vouchers issued through the service, as the Voucher API does."""
    async with runtime.db.write_session() as session:
        issued = await issuing.issue(
            session,
            client_id=client_id or f"cli_{uuid.uuid4().hex[:20]}",
            key=str(uuid.uuid4()),
            product_code=product.code,
            quantity=quantity,
            face_value=face_value,
            billable=billable,
        )
        await session.commit()
    return issued.vouchers


async def issued_at(
    runtime: Runtime,
    product: Product,
    when: datetime,
    *,
    count: int = 1,
    billable: bool = False,
    client_id: str | None = None,
) -> list[str]:
    """Vouchers as if issued at ``when`` (month of usage, expiry from the product): their codes."""
    rows = issuing.voucher_rows(
        product,
        sealer=runtime.sealer,
        count=count,
        value=product.face_value or product.item_quantity or 0,
        now=when,
        source="api",
        billable=billable,
        client_id=client_id,
    )
    async with runtime.db.write_session() as session:
        await bulk_insert(session, Voucher.__table__, rows)
        await session.commit()
    return [row["code"] for row in rows]


async def stored(runtime: Runtime, code: str) -> Voucher:
    async with runtime.db.session() as session:
        return await lookup.by_code(session, code)


def dashed(code: str) -> str:
    """A code as a person types it: lower case, in groups of four."""
    lower = code.lower()
    return "-".join(lower[i : i + 4] for i in range(0, len(lower), 4))


MARCH, APRIL = datetime(2031, 3, 10, tzinfo=UTC), datetime(2031, 4, 2, tzinfo=UTC)


async def make_product(runtime: Runtime, **over: Any) -> Product:
    """A fixed-value product (``helpers.fixed``) but for ``over``."""
    product: Product = await create(runtime, **fixed(**over))
    return product


async def voucher_template(
    runtime: Runtime, merchant_id: str, config: dict[str, Any]
) -> RewardTemplate:
    return await kind_template(
        runtime, merchant_id, kind="voucher", name="A voucher", config=config
    )
