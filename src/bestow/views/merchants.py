"""Merchants, their locations and business units."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    handle: str
    time_zone: str
    enrol_unknown_members: bool
    created_at: datetime


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    name: str
    street: str
    city: str
    state: str
    zip: str
    phone: str


class BusinessUnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    name: str
