"""Admin API: the voucher catalogue's products (created active, archived rather than deleted)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.fields import CleanStrings, IsoDateTime
from bestow.kit.pagination import cursor_paginate
from bestow.models import Product
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import ListOut
from bestow.views.pages import listing
from bestow.views.products import ProductOut, product_out
from bestow.vouchers import products

router = APIRouter(prefix="/admin", tags=["Admin API"])

Cents = Annotated[int, Field(ge=1, le=products.MAX_VALUE)]


class ProductIn(CleanStrings):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    is_value_based: bool = True
    is_open_value: bool = False
    is_status_available: bool = True
    is_multiple_use: bool = False
    currency: str = Field(default="", max_length=3)
    face_value: Cents | None = None
    min_face_value: Cents | None = None
    max_face_value: Cents | None = None
    item_quantity: int | None = Field(default=None, ge=1, le=10_000)
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    valid_until: IsoDateTime | None = None
    stock: int | None = Field(default=None, ge=0, le=2_147_483_647)
    terms: str = Field(default="", max_length=10_000)
    image_url: str | None = Field(default=None, max_length=2000)


class ProductPatch(CleanStrings):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    terms: str | None = Field(default=None, max_length=10_000)
    image_url: str | None = Field(default=None, max_length=2000)
    stock: int | None = Field(default=None, ge=0, le=2_147_483_647)
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    valid_until: IsoDateTime | None = None
    state: str | None = Field(default=None, pattern="^(active|archived)$")


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(
    body: ProductIn, actor: AdminActor, session: WriteSessionDep
) -> dict[str, Any]:
    """Add a product to the voucher catalogue."""
    product = await products.create_product(session, actor=actor, **body.model_dump())
    return product_out(product)


@router.get("/products", response_model=ListOut[ProductOut])
async def list_products(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[str | None, Query(pattern="^(active|archived)$")] = None,
) -> Any:
    """The catalogue's products, active and archived unless `state` says which."""
    page = await cursor_paginate(
        session, products.query(state=state), Product.id, cursor=cursor, limit=limit
    )
    return listing(page, product_out)


@router.get("/products/{code}", response_model=ProductOut)
async def get_product(code: str, _: AdminActor, session: ReadSessionDep) -> dict[str, Any]:
    """One product, active or archived."""
    return product_out(await products.get_product(session, code))


@router.patch("/products/{code}", response_model=ProductOut)
async def update_product(
    code: str, body: ProductPatch, actor: AdminActor, session: WriteSessionDep
) -> dict[str, Any]:
    """Change a product's texts, image, stock, validity or state (`archived` hides it from the
    Voucher API; vouchers already issued keep it)."""
    product = await products.update_product(
        session, code=code, actor=actor, **body.model_dump(exclude_unset=True)
    )
    return product_out(product)
