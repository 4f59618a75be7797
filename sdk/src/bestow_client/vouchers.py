"""The Voucher API (UNIQREWARDS Client API v3, ``/v3``, OAuth 2.0 client credentials).

What the vendor asks of an integration is done here by construction: a token reused until shortly
before it expires (and renewed once on a 401); the catalogue cached and refreshed; an
``Idempotency-Key`` (a UUID) per issuance, generated once and sent again on every retry, so that a
retried issuance returns the vouchers of the first (``VoucherOrder.replayed``) instead of issuing
twice; more than 20 vouchers split into several orders; more than 20 ids read in several requests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bestow_client._core import AsyncDriver, Call, Op, SyncDriver
from bestow_client._shared import DISCOVERY_TTL, OAuthTokens, TTLCache, authed, new_key

MAX_QUANTITY = 20
"""Vouchers one ``POST /v3/products/{code}`` issues at most."""
MAX_IDS = 20
"""Ids one ``GET /v3/vouchers?id=...`` reads at most."""
RECORD_HEADER = "Idempotency-Record"


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    description: str
    is_value_based: bool
    is_open_value: bool
    is_status_available: bool
    is_multiple_use: bool
    currency: str
    face_value: int | None
    """Cents, fixed value-based products."""
    min_face_value: int | None
    max_face_value: int | None
    quantity: int | None
    """Items of a product-based voucher."""
    validity_days: int | None
    valid_until: str | None
    in_stock: bool
    terms_and_conditions: str
    image: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Product:
        validity = raw.get("validity") or {}
        return cls(
            raw["code"],
            raw["name"],
            raw.get("description", ""),
            raw["is_value_based"],
            raw["is_open_value"],
            raw["is_status_available"],
            raw["is_multiple_use"],
            raw.get("currency", ""),
            raw.get("face_value"),
            raw.get("min_face_value"),
            raw.get("max_face_value"),
            raw.get("quantity"),
            validity.get("days"),
            validity.get("until"),
            raw.get("in_stock", True),
            raw.get("terms_and_conditions", ""),
            raw.get("image"),
            raw,
        )


@dataclass(frozen=True)
class Voucher:
    id: str
    """``voucher_id``: the UUID for API calls."""
    code: str
    """``voucher_code``: what the recipient and the merchant redeem."""
    name: str
    status: str
    """``active``, ``inactive``, ``expired``, ``voided`` or ``used``."""
    expiration: str
    currency: str
    remaining_amount: int
    product_code: str
    product_name: str
    is_value_based: bool
    is_status_available: bool
    is_multiple_use: bool
    url: str
    short_url: str
    short_url_pin: str = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Voucher:
        return cls(
            raw["voucher_id"],
            raw["voucher_code"],
            raw["name"],
            raw["status"],
            raw["expiration"],
            raw.get("currency", ""),
            raw["remaining_amount"],
            raw["product_code"],
            raw["product_name"],
            raw["is_value_based"],
            raw["is_status_available"],
            raw["is_multiple_use"],
            raw.get("url", ""),
            raw.get("short_url", ""),
            raw.get("short_url_pin", ""),
            raw,
        )


@dataclass(frozen=True)
class VoucherOrder:
    """One ``POST /v3/products/{code}``: its vouchers, in the order issued. ``replayed`` when the
    key had been used before (the answer carried ``Idempotency-Record``, the time of the original
    issue, kept in ``recorded_at``): the vouchers are the first issue's, in their current state.
    ``error`` is the ``207-762`` object of a partial issue (``allow_partial``), else ``None``."""

    vouchers: list[Voucher]
    replayed: bool
    recorded_at: str | None
    idempotency_key: str
    product_code: str
    quantity: int
    error: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(
        cls, response: httpx.Response, *, key: str, product_code: str, quantity: int
    ) -> VoucherOrder:
        body = response.json()
        recorded_at = response.headers.get(RECORD_HEADER)
        return cls(
            [Voucher.of(v) for v in body["vouchers"]],
            recorded_at is not None,
            recorded_at,
            key,
            product_code,
            quantity,
            body.get("error"),
            body,
        )

    @property
    def partial(self) -> bool:
        """Fewer vouchers than asked, for lack of stock (``207-762``)."""
        return self.error is not None


def order_keys(idempotency_key: str | None, orders: int) -> list[str]:
    """The ``Idempotency-Key`` of each order of an issuance. Without a key, a new random UUID
    each. With one, the first order uses the key itself and order ``n`` (from 1) the UUID 5 of
    ``n`` in the key's namespace: deterministic, so repeating the call replays every order, and a
    repeat with another quantity meets the first order's key and is refused (``422-000``)."""
    if idempotency_key is None:
        return [new_key() for _ in range(orders)]
    try:
        namespace = uuid.UUID(idempotency_key.strip())
    except ValueError:
        raise ValueError(f"idempotency_key must be a UUID, not {idempotency_key!r}") from None
    return [idempotency_key] + [str(uuid.uuid5(namespace, str(n))) for n in range(1, orders)]


def _sizes(quantity: int) -> list[int]:
    return [min(MAX_QUANTITY, quantity - start) for start in range(0, quantity, MAX_QUANTITY)]


class VoucherOps:
    """The Voucher API's operations (generators run by a driver; see ``_core``)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        discovery_ttl: float = DISCOVERY_TTL,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.tokens = OAuthTokens(client_id, client_secret, scope=scope, clock=clock)
        self.product_cache: TTLCache[str, list[Product]] = TTLCache(discovery_ttl, clock)
        self.headers = {"Accept": "application/json"}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Op[Any]:
        call = Call("GET", path, params=params, headers=self.headers)
        response = yield from authed(self.tokens, call)
        return response.json()

    # --- catalogue (cached) --------------------------------------------------------------------

    def products(self, *, refresh: bool = False) -> Op[list[Product]]:
        """The active products, fetched again after ``discovery_ttl`` seconds (or ``refresh``)."""
        cached = None if refresh else self.product_cache.get("all")
        if cached is not None:
            return cached
        body = yield from self._get("/v3/products")
        return self.product_cache.put("all", [Product.of(p) for p in body])

    def product(self, code: str, *, refresh: bool = False) -> Op[Product]:
        """One product: from the cached catalogue when it holds it, else ``GET /v3/products/
        {code}`` (``NotFoundError``, ``404-000``, for an unknown or archived code)."""
        cached = None if refresh else self.product_cache.get("all")
        for product in cached or []:
            if product.code == code:
                return product
        body = yield from self._get(f"/v3/products/{quote(code, safe='')}")
        return Product.of(body)

    # --- issuance ------------------------------------------------------------------------------

    def issue(
        self,
        product_code: str,
        *,
        quantity: int = 1,
        face_value: int | None = None,
        allow_partial: bool = False,
        idempotency_key: str | None = None,
    ) -> Op[list[VoucherOrder]]:
        """Issue ``quantity`` vouchers of a product (``face_value`` in cents for an open-value
        product, and only for one). Always a list of orders, in the order issued: one order for
        up to 20 vouchers, else orders of 20 and the rest. Each order's key (``order_keys``) is
        the same on every retry, so a retried or repeated call never issues twice.

        With ``allow_partial``, a short stock issues what is left (``VoucherOrder.partial``) and
        the orders after it are not sent."""
        if type(quantity) is not int or quantity < 1:
            raise ValueError(f"quantity must be a positive integer, not {quantity!r}")
        sizes = _sizes(quantity)
        keys = order_keys(idempotency_key, len(sizes))
        path = f"/v3/products/{quote(product_code, safe='')}"
        orders: list[VoucherOrder] = []
        for size, key in zip(sizes, keys, strict=True):
            body: dict[str, Any] = {"quantity": size}
            if face_value is not None:
                body["face_value"] = face_value
            if allow_partial:
                body["allow_partial"] = True
            headers = {**self.headers, "Idempotency-Key": key}
            call = Call("POST", path, json=body, headers=headers, safe=True)
            response = yield from authed(self.tokens, call)
            order = VoucherOrder.of(response, key=key, product_code=product_code, quantity=size)
            orders.append(order)
            if order.partial:
                break
        return orders

    # --- retrieval -----------------------------------------------------------------------------

    def vouchers(self, ids: Iterable[str]) -> Op[list[Voucher]]:
        """The vouchers of ``ids``, in the order given (a repeated id is read once and given
        back at each place), in requests of at most 20 ids. ``NotFoundError`` when one of them
        is unknown or another client's."""
        wanted = list(ids)
        unique = list(dict.fromkeys(wanted))
        found: dict[str, Voucher] = {}
        for start in range(0, len(unique), MAX_IDS):
            batch = unique[start : start + MAX_IDS]
            body = yield from self._get("/v3/vouchers", {"id": ",".join(batch)})
            for asked, raw in zip(batch, body, strict=True):
                found[asked] = Voucher.of(raw)
        return [found[i] for i in wanted]

    def voucher(self, voucher_id: str) -> Op[Voucher]:
        body = yield from self._get(f"/v3/vouchers/{quote(voucher_id, safe='')}")
        return Voucher.of(body)


class Vouchers:
    """The Voucher API on a sync client (``Bestow(...).vouchers(...)``)."""

    def __init__(self, ops: VoucherOps, driver: SyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    def products(self, *, refresh: bool = False) -> list[Product]:
        return self._run(self.ops.products(refresh=refresh))

    def product(self, code: str, *, refresh: bool = False) -> Product:
        return self._run(self.ops.product(code, refresh=refresh))

    def issue(
        self,
        product_code: str,
        *,
        quantity: int = 1,
        face_value: int | None = None,
        allow_partial: bool = False,
        idempotency_key: str | None = None,
    ) -> list[VoucherOrder]:
        return self._run(
            self.ops.issue(
                product_code,
                quantity=quantity,
                face_value=face_value,
                allow_partial=allow_partial,
                idempotency_key=idempotency_key,
            )
        )

    def vouchers(self, ids: Iterable[str]) -> list[Voucher]:
        return self._run(self.ops.vouchers(ids))

    def voucher(self, voucher_id: str) -> Voucher:
        return self._run(self.ops.voucher(voucher_id))


class AsyncVouchers:
    """The Voucher API on an async client (``AsyncBestow(...).vouchers(...)``)."""

    def __init__(self, ops: VoucherOps, driver: AsyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    async def products(self, *, refresh: bool = False) -> list[Product]:
        return await self._run(self.ops.products(refresh=refresh))

    async def product(self, code: str, *, refresh: bool = False) -> Product:
        return await self._run(self.ops.product(code, refresh=refresh))

    async def issue(
        self,
        product_code: str,
        *,
        quantity: int = 1,
        face_value: int | None = None,
        allow_partial: bool = False,
        idempotency_key: str | None = None,
    ) -> list[VoucherOrder]:
        return await self._run(
            self.ops.issue(
                product_code,
                quantity=quantity,
                face_value=face_value,
                allow_partial=allow_partial,
                idempotency_key=idempotency_key,
            )
        )

    async def vouchers(self, ids: Iterable[str]) -> list[Voucher]:
        return await self._run(self.ops.vouchers(ids))

    async def voucher(self, voucher_id: str) -> Voucher:
        return await self._run(self.ops.voucher(voucher_id))
