"""Helpers of the Voucher API certification's tests: a UAT client with a catalogue of its own
(a fixed, an open-value and a product-based product), its requests as an integration sends
them, and the holder opening a voucher's short link with its PIN."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from bestow.deps import Runtime
from bestow.lab import catalogue
from bestow.lab.catalogue import PRODUCT
from tests.conftest import ACTOR
from tests.oauth.helpers import VOUCHER_SCOPES, get_token, oauth_client
from tests.vouchers.helpers import create, fixed

FACE_VALUE = 1051


@dataclass
class Uat:
    """A UAT client of the Voucher API and its catalogue: ``codes`` by kind."""

    client_id: str
    secret: str
    codes: dict[str, str]
    token: str = ""
    sent: list[httpx.Response] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def open_code(self) -> str:
        return self.codes["open"]


async def new_uat(http: httpx.AsyncClient, runtime: Runtime, *, token: bool = True) -> Uat:
    """A fresh UAT client (unlimited tier) whose catalogue is three new products."""
    client_id, secret, _ = await oauth_client(
        runtime, VOUCHER_SCOPES, tier="unlimited", name="cert-vouchers", environment="uat"
    )
    kinds: dict[str, dict[str, Any]] = {
        "fixed": {},
        "open": {"name": "Coffee Voucher", "is_open_value": True, "face_value": None},
        "items": {
            "name": "5 Cups of Coffee",
            "is_value_based": False,
            "is_multiple_use": True,
            "currency": "",
            "face_value": None,
            "item_quantity": 5,
        },
    }
    codes = {}
    for kind, over in kinds.items():
        product = await create(runtime, **fixed(**over))
        codes[kind] = product.code
    async with runtime.db.write_session() as session:
        for code in codes.values():
            await catalogue.assign(
                session, client_id=client_id, kind=PRODUCT, item_id=code, actor=ACTOR
            )
        await session.commit()
    uat = Uat(client_id, secret, codes)
    if token:
        await fetch_token(http, uat)
    return uat


async def fetch_token(http: httpx.AsyncClient, uat: Uat) -> httpx.Response:
    response = await get_token(http, uat.client_id, uat.secret)
    assert response.status_code == 200, response.text
    uat.token = response.json()["access_token"]
    return response


def body_of(uat: Uat, kind: str, quantity: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"quantity": quantity}
    if kind == "open":
        body["face_value"] = FACE_VALUE
    return body


async def issue(
    http: httpx.AsyncClient,
    uat: Uat,
    kind: str,
    *,
    key: str | None = None,
    body: dict[str, Any] | None = None,
    lost: bool = False,
) -> httpx.Response:
    """``POST /v3/products/{code}`` of the product of ``kind``; a fresh key unless ``key`` ("":
    none). ``lost``: the answer is lost (the sandbox's fault, answered as a 504)."""
    headers = dict(uat.headers)
    key = str(uuid.uuid4()) if key is None else key
    if key:
        headers["Idempotency-Key"] = key
    if lost:
        headers |= {"X-Bestow-Fault": "lost_answer", "X-Bestow-Fault-Answer": "504"}
    response = await http.post(
        f"/v3/products/{uat.codes[kind]}",
        json=body_of(uat, kind) if body is None else body,
        headers=headers,
    )
    uat.sent.append(response)
    return response


async def retrieve(http: httpx.AsyncClient, uat: Uat, ids: list[str]) -> httpx.Response:
    response = await http.get("/v3/vouchers", params={"id": ",".join(ids)}, headers=uat.headers)
    uat.sent.append(response)
    return response


async def open_voucher(http: httpx.AsyncClient, voucher: dict[str, Any]) -> httpx.Response:
    """The holder opens the voucher's ``short_url`` with its PIN, as a browser would."""
    path = urlsplit(voucher["short_url"]).path
    form = await http.get(path)
    assert form.status_code == 200, form.text
    opened = await http.post(path, data={"pin": voucher["short_url_pin"]})
    assert opened.status_code == 200, opened.text
    return opened


def rid(response: httpx.Response) -> str:
    return response.headers["x-request-id"]
