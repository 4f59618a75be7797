"""``GET /v3/products`` and ``GET /v3/products/{code}``: the catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bestow.deps import ReadSessionDep
from bestow.kit.timefmt import iso
from bestow.models import Product
from bestow.surfaces.vouchers.auth import ReadCatalogue
from bestow.vouchers import products

router = APIRouter(prefix="/v3", tags=["Voucher API"])


class ValidityOut(BaseModel):
    days: int | None = Field(description="Vouchers expire this many days after issue")
    until: datetime | None = Field(description="Vouchers expire at this time")


class ProductOut(BaseModel):
    code: str
    name: str
    description: str
    is_value_based: bool
    is_open_value: bool
    is_status_available: bool
    is_multiple_use: bool
    currency: str = Field(description="ISO 4217; empty for product-based products")
    face_value: int | None = Field(description="Cents, for fixed value-based products")
    min_face_value: int | None = Field(description="Cents, for open-value products")
    max_face_value: int | None = Field(description="Cents, for open-value products")
    quantity: int | None = Field(description="Items of a product-based voucher")
    validity: ValidityOut
    in_stock: bool = Field(description="False when the product's stock is spent")
    terms_and_conditions: str
    image: str | None


def product_view(product: Product) -> dict[str, Any]:
    return {
        "code": product.code,
        "name": product.name,
        "description": product.description,
        "is_value_based": product.is_value_based,
        "is_open_value": product.is_open_value,
        "is_status_available": product.is_status_available,
        "is_multiple_use": product.is_multiple_use,
        "currency": product.currency,
        "face_value": product.face_value,
        "min_face_value": product.min_face_value,
        "max_face_value": product.max_face_value,
        "quantity": product.item_quantity,
        "validity": {"days": product.validity_days, "until": iso(product.valid_until)},
        "in_stock": product.stock is None or product.stock > 0,
        "terms_and_conditions": product.terms,
        "image": product.image_url,
    }


@router.get("/products", response_model=list[ProductOut])
async def list_products(client: ReadCatalogue, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Every product configured for issuance to this client (an array of product objects)."""
    stmt = products.query(issuable=True, for_client=client.id)
    rows = await session.scalars(stmt.order_by(Product.code))
    return [product_view(p) for p in rows]


@router.get("/products/{code}", response_model=ProductOut)
async def get_product(code: str, client: ReadCatalogue, session: ReadSessionDep) -> dict[str, Any]:
    """One product; 404 when the code is unknown (or the product archived, or not in this
    client's catalogue)."""
    found = await products.get_product(session, code, active_only=True, for_client=client.id)
    return product_view(found)
