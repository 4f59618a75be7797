"""Issuing vouchers from a product: the Voucher API's issuance, once per idempotency key, and the
voucher rows a campaign's issuance writes (``bestow.vouchers.kind``).

Issuing (``issue``) runs in the caller's write transaction. A request is recorded as a
``VoucherOrder`` under the client's ``Idempotency-Key`` in the same transaction as its vouchers,
so the vouchers and the record of them commit together or not at all; a repeat of the key finds
the order and returns the very same vouchers, whenever it comes. Concurrent repeats meet on the
order's unique key: on PostgreSQL the later inserts wait for the first transaction and then read
its order; on SQLite writers are serialised. Only issuances that issued something are recorded:
a refused request (bad body, out of stock) may be retried with the same key once fixed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit import fields
from bestow.kit.db import WriteSession, bulk_insert, dialect_of, insert_ignore, sealer_of, utcnow
from bestow.kit.ids import new_id, new_uuid7
from bestow.kit.outbox import event_row
from bestow.kit.security import Sealer
from bestow.models import Product, Voucher, VoucherOrder
from bestow.vouchers import codes
from bestow.vouchers.errors import (
    BadFaceValue,
    BadQuantity,
    KeyMalformed,
    KeyMissing,
    KeyReused,
    OutOfStock,
)
from bestow.vouchers.events import VOUCHER_ISSUED, event_view
from bestow.vouchers.products import get_product
from bestow.webhooks import fanout

MAX_QUANTITY = 20
MAX_NAME = 240
"""The length of a voucher's name (the product's, with the denomination): longer is cut."""

_SYMBOLS = {"USD": "$", "SGD": "$", "AUD": "$", "CAD": "$", "NZD": "$", "HKD": "$"}
_SYMBOLS |= {"EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}
FACE_VALUE_PLACEHOLDER = "${FV}"


@dataclass(frozen=True)
class Issued:
    """An issuance: its order, its vouchers in order, whether it is a repeat of an earlier
    request, and how many of the vouchers asked for could not be issued (stock)."""

    order: VoucherOrder
    vouchers: list[Voucher]
    replayed: bool

    @property
    def shortfall(self) -> int:
        return self.order.quantity - self.order.issued_count


def denomination(currency: str, cents: int) -> str:
    """``$10.51``, ``€5.00``, or ``CHF 12.00`` for currencies without a symbol here."""
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{currency} {amount}"


def voucher_name(product: Product, face_value: int | None) -> str:
    """The product's name with the denomination: ``${FV}`` in the name is replaced by it, or it
    is put in front of an open-value product's name (``$10.51 Coffee Voucher``)."""
    name = product.name
    if not product.is_value_based or face_value is None:
        return name
    shown = denomination(product.currency, face_value)
    if FACE_VALUE_PLACEHOLDER in name:
        return name.replace(FACE_VALUE_PLACEHOLDER, shown)
    if product.is_open_value:
        return f"{shown} {name}"
    return name


def expiry(product: Product, issued_at: datetime) -> datetime:
    """The product's fixed date, or the end (23:59:59 UTC) of the day ``validity_days`` after
    issue, as the vendor's examples read (``2030-10-12T22:59:59+00:00``)."""
    if product.valid_until is not None:
        return product.valid_until
    assert product.validity_days is not None
    day = (issued_at + timedelta(days=product.validity_days)).date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def idempotency_key(value: str | None) -> str:
    """An issuance's idempotency key in its stored form (a UUID, lower case): ``KeyMissing``
    without one, ``KeyMalformed`` for one that is not a UUID."""
    if value is None or not value.strip():
        raise KeyMissing("an idempotency key is required", field="Idempotency-Key")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise KeyMalformed("the idempotency key is not a UUID", field="Idempotency-Key") from None


def check_quantity(quantity: object) -> int:
    """How many vouchers to issue: an integer from 1 to ``MAX_QUANTITY``, or ``BadQuantity``."""
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        raise BadQuantity(f"quantity must be between 1 and {MAX_QUANTITY}", field="quantity")
    return quantity


def face_value_asked(value: object) -> int | None:
    """The face value a request asks for (an integer number of cents, or none), before it is
    held against a product (``check_face_value``)."""
    if value is None:
        return None
    try:
        return fields.integer(value)
    except fields.OutOfRange:
        raise BadFaceValue("face_value is out of range", field="face_value") from None
    except fields.FieldError:
        raise BadFaceValue(
            "face_value must be an integer number of cents", field="face_value"
        ) from None


def check_face_value(product: Product, face_value: int | None) -> int:
    """The voucher's value in cents (or items): the product's, or the open value asked for."""
    if product.is_open_value:
        low, high = product.min_face_value or 0, product.max_face_value or 0
        if face_value is None:
            raise BadFaceValue(
                f"face_value is required for open-value products, in cents, {low} to {high}",
                field="face_value",
            )
        if not low <= face_value <= high:
            raise BadFaceValue(
                f"face_value is out of range for this product: in cents, {low} to {high}",
                field="face_value",
            )
        return face_value
    if face_value is not None:
        raise BadFaceValue(
            "face_value is only accepted for open-value products", field="face_value"
        )
    if product.is_value_based:
        assert product.face_value is not None
        return product.face_value
    assert product.item_quantity is not None
    return product.item_quantity


def voucher_rows(
    product: Product,
    *,
    sealer: Sealer,
    count: int,
    value: int,
    now: datetime,
    source: str,
    billable: bool,
    client_id: str | None,
    order_id: str | None = None,
    valid_from: datetime | None = None,
    positions: Sequence[int] = (),
    links: Sequence[tuple[str | None, str | None]] = (),
) -> list[dict[str, Any]]:
    """``count`` new vouchers as rows for ``bulk_insert`` (every column), in the order
    ``order_id`` (a Voucher API order, or a campaign's issuance job) at ``positions`` (0, 1, ...
    by default; a job's identifier indexes). ``links`` gives each its ``(reward id, member id)``
    when a campaign issues them."""
    name = voucher_name(product, value)[:MAX_NAME]
    expires_at = expiry(product, now)
    month = now.strftime("%Y-%m")
    rows = []
    for position in range(count):
        reward_id, member_id = links[position] if links else (None, None)
        rows.append(
            {
                "id": new_uuid7(),
                "code": codes.voucher_code(),
                "short_code": codes.short_code(),
                "sealed_pin": sealer.seal(codes.pin()),
                "pin_failures": 0,
                "pin_locked_until": None,
                "opened_at": None,
                "client_id": client_id,
                "product_id": product.id,
                "product_code": product.code,
                "product_name": product.name,
                "name": name,
                "is_value_based": product.is_value_based,
                "is_status_available": product.is_status_available,
                "is_multiple_use": product.is_multiple_use,
                "currency": product.currency,
                "face_value": value,
                "remaining_amount": value,
                "status": "active",
                "valid_from": valid_from,
                "expires_at": expires_at,
                "source": source,
                "order_id": order_id,
                "position": (positions[position] if positions else position) if order_id else None,
                "reward_id": reward_id,
                "member_id": member_id,
                "billable": billable,
                "usage_month": month,
                "issued_at": now,
                "updated_at": now,
            }
        )
    return rows


async def take_stock(
    session: AsyncSession, product: Product, wanted: int, *, partial: bool = True
) -> int:
    """Take ``wanted`` from the product's stock (locked till the end of the transaction), or as
    many as there are when ``partial``, else none; how many were taken. Unlimited stock takes
    no lock. (An ``AsyncSession``: a reward kind's chunk hands its write session as one.)"""
    if product.stock is None:
        return wanted
    if dialect_of(session) == "postgresql":
        # NO KEY UPDATE: rows that point at the product (a new order, new vouchers) hold KEY
        # SHARE on it through their foreign key; a plain FOR UPDATE would deadlock with them.
        await session.refresh(product, ["stock"], with_for_update={"key_share": True})
    stock = product.stock or 0
    taken = min(stock, wanted) if partial else (wanted if stock >= wanted else 0)
    product.stock = stock - taken
    return taken


async def _order(session: AsyncSession, client_id: str, key: str) -> VoucherOrder | None:
    return await session.scalar(
        select(VoucherOrder).where(
            VoucherOrder.client_id == client_id, VoucherOrder.idempotency_key == key
        )
    )


async def _replay(session: AsyncSession, order: VoucherOrder, request: tuple[Any, ...]) -> Issued:
    if (order.product_code, order.quantity, order.face_value, order.allow_partial) != request:
        raise KeyReused(order.id)
    vouchers = await session.scalars(
        select(Voucher).where(Voucher.order_id == order.id).order_by(Voucher.position)
    )
    return Issued(order, list(vouchers), replayed=True)


async def issue(
    session: WriteSession,
    *,
    client_id: str,
    key: str,
    product_code: str,
    quantity: int,
    face_value: int | None,
    billable: bool,
    allow_partial: bool = False,
) -> Issued:
    """Issue ``quantity`` vouchers of a product once per idempotency ``key`` (a UUID, lower case).

    Raises ``KeyReused`` for a key used with another request, ``NotFound`` for an unknown or
    archived product, ``BadQuantity`` or ``BadFaceValue`` for a bad quantity or face value and
    ``OutOfStock`` when the stock is short. With ``allow_partial`` a short stock issues what it
    has (``Issued.shortfall`` says how many are missing) and only an empty one is
    ``OutOfStock``. A product outside the client's catalogue (``lab.catalogue``) is unknown; a
    replay answers what was issued, whatever the catalogue is now. The caller commits.
    """
    request = (product_code, quantity, face_value, allow_partial)
    earlier = await _order(session, client_id, key)
    if earlier is not None:
        return await _replay(session, earlier, request)
    check_quantity(quantity)
    product = await get_product(session, product_code, active_only=True, for_client=client_id)
    value = check_face_value(product, face_value)
    now = utcnow()
    order = VoucherOrder(
        id=new_id("vor"),
        client_id=client_id,
        idempotency_key=key,
        product_id=product.id,
        product_code=product.code,
        quantity=quantity,
        face_value=face_value,
        allow_partial=allow_partial,
        issued_count=quantity,
        created_at=now,
    )
    values = {c.name: getattr(order, c.key) for c in VoucherOrder.__table__.columns}
    claimed = await session.execute(
        insert_ignore(dialect_of(session), VoucherOrder.__table__).values(**values)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # A concurrent request with this key committed first (we waited on its key): read it.
        winner = await _order(session, client_id, key)
        assert winner is not None
        return await _replay(session, winner, request)
    count = await take_stock(session, product, quantity, partial=allow_partial)
    if count == 0:
        raise OutOfStock(product.code)
    order_id = order.id
    rows = voucher_rows(
        product,
        sealer=sealer_of(session),
        count=count,
        value=value,
        now=now,
        source="api",
        billable=billable,
        client_id=client_id,
        order_id=order_id,
    )
    await bulk_insert(session, Voucher.__table__, rows)
    if count < quantity:
        order.issued_count = count
        await session.execute(
            update(VoucherOrder).where(VoucherOrder.id == order_id).values(issued_count=count)
        )
    vouchers = [Voucher(**row) for row in rows]
    stamp = now.isoformat()
    await fanout.write_events(
        session,
        [
            event_row(
                VOUCHER_ISSUED,
                subject_type="voucher",
                subject_id=v.id,
                client_id=client_id,
                now=now,
                stamp=stamp,
                data={"order_id": order_id, "voucher": event_view(v, now)},
            )
            for v in vouchers
        ],
    )
    return Issued(order, vouchers, replayed=False)
