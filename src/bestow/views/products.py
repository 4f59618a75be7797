"""The voucher catalogue's products as the Admin API and the CLI show them: their columns and
their type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bestow.models import Product
from bestow.vouchers.products import product_type


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    code: str
    name: str
    description: str
    type: str
    is_value_based: bool
    is_open_value: bool
    is_status_available: bool
    is_multiple_use: bool
    currency: str
    face_value: int | None
    min_face_value: int | None
    max_face_value: int | None
    item_quantity: int | None
    validity_days: int | None
    valid_until: datetime | None
    stock: int | None
    terms: str
    image_url: str | None
    state: str
    created_at: datetime
    updated_at: datetime


def product_out(product: Product) -> dict[str, Any]:
    """The view of a product (its columns and its type)."""
    view = {name: getattr(product, name) for name in ProductOut.model_fields if name != "type"}
    return {**view, "type": product_type(product)}
