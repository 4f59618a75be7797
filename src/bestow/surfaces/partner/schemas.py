"""Partner API response bodies, in the vendor's snake_case."""

from __future__ import annotations

from pydantic import BaseModel

from bestow.kit.pagination import Page


class MerchantOut(BaseModel):
    id: str
    name: str
    handle: str


class MerchantsOut(BaseModel):
    merchants: list[MerchantOut]


class LocationOut(BaseModel):
    id: str
    merchant_id: str
    name: str
    street: str
    city: str
    state: str
    zip: str
    phone: str


class Pagination(BaseModel):
    current_page: int
    per_page: int
    total_pages: int

    @classmethod
    def of(cls, page: Page[object]) -> Pagination:
        return cls(current_page=page.page, per_page=page.per_page, total_pages=page.total_pages)


class LocationsOut(BaseModel):
    locations: list[LocationOut]
    pagination: Pagination


class ScopesOut(BaseModel):
    scopes: list[str]


class PartnerError(BaseModel):
    code: str
    message: str
