"""The voucher catalogue: products that vouchers are issued from.

The four flags define a product's type (``docs/vouchers.md``):

* value-based, fixed: ``face_value`` cents of ``currency``;
* value-based, open value: the face value is chosen at issuance within
  ``min_face_value``..``max_face_value`` (100 to 100,000 cents by default);
* product-based: ``item_quantity`` items, no currency, never open value;
* gift cards (super vouchers) are value-based products that can be used several times
  (``is_multiple_use``).

A product's code is unique in the deployment's catalogue and never changes; products are archived,
not deleted, so the vouchers issued from them keep their product.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.lab import catalogue
from bestow.lab.catalogue import PRODUCT
from bestow.models import Product

STATES = ("active", "archived")
OPEN_VALUE_RANGE = (100, 100_000)
"""The vendor's open-value range, in cents: 1 to 1,000 of the currency."""
MAX_VALUE = 10_000_000
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
EDITABLE = ("name", "description", "terms", "image_url", "stock", "validity_days", "valid_until")


def _check(fields: dict[str, Any]) -> dict[str, Any]:
    """The product's fields made consistent with its type, or ``Invalid``."""
    value_based, open_value = fields["is_value_based"], fields["is_open_value"]
    if value_based:
        if not _CURRENCY.match(fields.get("currency") or ""):
            raise Invalid("a value-based product needs an ISO 4217 currency", field="currency")
        fields["item_quantity"] = None
        if open_value:
            low = fields.get("min_face_value") or OPEN_VALUE_RANGE[0]
            high = fields.get("max_face_value") or OPEN_VALUE_RANGE[1]
            if not 1 <= low <= high <= MAX_VALUE:
                raise Invalid("the open-value range is invalid", field="min_face_value")
            fields.update(face_value=None, min_face_value=low, max_face_value=high)
        else:
            if not 1 <= (fields.get("face_value") or 0) <= MAX_VALUE:
                raise Invalid("a fixed-value product needs a face value", field="face_value")
            fields.update(min_face_value=None, max_face_value=None)
    else:
        if open_value:
            raise Invalid("a product-based product cannot be open value", field="is_open_value")
        if not 1 <= (fields.get("item_quantity") or 0) <= 10_000:
            raise Invalid("a product-based product needs an item quantity", field="item_quantity")
        fields.update(currency="", face_value=None, min_face_value=None, max_face_value=None)
    _check_validity(fields)
    if fields.get("stock") is not None and fields["stock"] < 0:
        raise Invalid("stock cannot be negative", field="stock")
    return fields


def _check_validity(fields: dict[str, Any]) -> None:
    days, until = fields.get("validity_days"), fields.get("valid_until")
    if (days is None) == (until is None):
        raise Invalid("give either validity_days or valid_until", field="validity_days")
    if days is not None and not 1 <= days <= 3650:
        raise Invalid("validity_days is between 1 and 3650", field="validity_days")
    if until is not None and until.tzinfo is None:
        raise Invalid("valid_until needs a time zone", field="valid_until")
    if until is not None and until <= utcnow():
        raise Invalid("valid_until must be in the future", field="valid_until")


async def create_product(
    session: WriteSession,
    *,
    code: str,
    name: str,
    is_value_based: bool,
    is_open_value: bool,
    is_status_available: bool,
    is_multiple_use: bool,
    actor: Actor,
    **fields: Any,
) -> Product:
    if not _CODE.match(code):
        raise Invalid("code is 1 to 40 letters, digits, '_', '-' or '.'", field="code")
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    if await session.scalar(select(Product.id).where(Product.code == code)):
        raise Conflict(f"a product with code {code} exists")
    values = _check(
        {
            **fields,
            "is_value_based": is_value_based,
            "is_open_value": is_open_value,
            "is_status_available": is_status_available,
            "is_multiple_use": is_multiple_use,
        }
    )
    now = utcnow()
    product = Product(code=code, name=name.strip(), created_at=now, updated_at=now, **values)
    session.add(product)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="product.created",
        target_type="product",
        target_id=product.id,
        changes={"code": code, "type": product_type(product)},
    )
    return product


async def get_product(
    session: AsyncSession, code: str, *, active_only: bool = False, for_client: str | None = None
) -> Product:
    """A product by code; ``active_only``: one that can issue now (active, and its fixed expiry
    date, if any, still ahead: a voucher must not be born expired); ``for_client``: one in that
    client's catalogue (``lab.catalogue``), any other being as unknown."""
    stmt = select(Product).where(Product.code == code)
    if active_only:
        stmt = stmt.where(*_issuable(utcnow()))
    if for_client is not None:
        stmt = stmt.where(catalogue.visible(Product.code, client_id=for_client, kind=PRODUCT))
    product = await session.scalar(stmt)
    if product is None:
        raise NotFound(f"product {code} not found")
    return product


async def update_product(
    session: WriteSession, *, code: str, actor: Actor, **changes: Any
) -> Product:
    """Change what does not alter the vouchers already issued: texts, image, stock, validity of
    future vouchers, and the state (``active`` or ``archived``)."""
    product = await get_product(session, code)
    state = changes.pop("state", None)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    for text in ("name", "description", "terms"):
        if text in changes and changes[text] is None:
            raise Invalid(f"{text} cannot be null", field=text)
    if "name" in changes:
        if not changes["name"].strip():
            raise Invalid("name must not be blank", field="name")
        changes["name"] = changes["name"].strip()
    if "validity_days" in changes or "valid_until" in changes:
        merged = {
            "validity_days": changes.get("validity_days", product.validity_days),
            "valid_until": changes.get("valid_until", product.valid_until),
        }
        if "validity_days" in changes and changes["validity_days"] is not None:
            merged["valid_until"] = None
        if "valid_until" in changes and changes["valid_until"] is not None:
            merged["validity_days"] = None
        _check_validity(merged)
        changes.update(merged)
    if changes.get("stock") is not None and changes["stock"] < 0:
        raise Invalid("stock cannot be negative", field="stock")
    if state is not None:
        if state not in STATES:
            raise Invalid("state is active or archived", field="state")
        changes["state"] = state
    for name, value in changes.items():
        setattr(product, name, value)
    product.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="product.updated",
        target_type="product",
        target_id=product.id,
        changes={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changes.items()},
    )
    return product


def query(
    *, state: str | None = "active", issuable: bool = False, for_client: str | None = None
) -> Select[Product]:
    """Products in ``state``; ``issuable``: only those that can issue now (the catalogue);
    ``for_client``: only those in that client's catalogue (``lab.catalogue``)."""
    stmt = select(Product)
    if state:
        stmt = stmt.where(Product.state == state)
    if issuable:
        stmt = stmt.where(*_issuable(utcnow()))
    if for_client is not None:
        stmt = stmt.where(catalogue.visible(Product.code, client_id=for_client, kind=PRODUCT))
    return stmt


def _issuable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Product.state == "active",
        or_(Product.valid_until.is_(None), Product.valid_until > now),
    )


def product_type(product: Product) -> str:
    """fixed, open_value, product_based or gift_card (a multiple-use value-based product)."""
    if not product.is_value_based:
        return "product_based"
    if product.is_multiple_use:
        return "gift_card"
    return "open_value" if product.is_open_value else "fixed"
