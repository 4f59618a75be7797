"""Merchants (brands or programmes), their locations and business units."""

from __future__ import annotations

import functools
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import BusinessUnit, ClientMerchant, Location, Merchant

HANDLE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}$")


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names installed, read once: ``available_timezones()`` walks the whole time zone
    database on each call (tens of milliseconds)."""
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise Invalid(
            f"unknown time zone {name!r}; use an IANA name such as America/New_York",
            field="time_zone",
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - listed zones always load
        raise Invalid(f"unknown time zone {name!r}", field="time_zone") from exc
    return name


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"merchant {merchant_id} not found")
    return merchant


async def create_merchant(
    session: WriteSession,
    *,
    name: str,
    handle: str,
    time_zone: str,
    enrol_unknown_members: bool = False,
    actor: Actor,
) -> Merchant:
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    if not HANDLE.match(handle):
        raise Invalid("handle is 2-100 lowercase letters, digits, '-' or '_'", field="handle")
    if await session.scalar(select(Merchant.id).where(Merchant.handle == handle)):
        raise Conflict(f"handle {handle!r} is already taken")
    merchant = Merchant(
        name=name.strip(),
        handle=handle,
        time_zone=check_time_zone(time_zone),
        enrol_unknown_members=enrol_unknown_members,
    )
    session.add(merchant)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="merchant.created",
        target_type="merchant",
        target_id=merchant.id,
        changes={"name": merchant.name, "handle": handle},
    )
    return merchant


async def update_merchant(
    session: WriteSession,
    *,
    merchant_id: str,
    actor: Actor,
    name: str | None = None,
    time_zone: str | None = None,
    enrol_unknown_members: bool | None = None,
) -> Merchant:
    merchant = await get_merchant(session, merchant_id)
    changes: dict[str, object] = {}
    if name is not None:
        if not name.strip():
            raise Invalid("name must not be blank", field="name")
        merchant.name = changes["name"] = name.strip()
    if time_zone is not None:
        merchant.time_zone = changes["time_zone"] = check_time_zone(time_zone)
    if enrol_unknown_members is not None:
        merchant.enrol_unknown_members = changes["enrol_unknown_members"] = enrol_unknown_members
    audit.record(
        session,
        actor=actor,
        action="merchant.updated",
        target_type="merchant",
        target_id=merchant.id,
        changes=changes,
    )
    return merchant


def list_query() -> Select[Merchant]:
    return select(Merchant)


async def list_merchants(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> CursorPage[Merchant]:
    return await cursor_paginate(session, list_query(), Merchant.id, cursor=cursor, limit=limit)


def granted_query(client_id: str | ColumnElement[str]) -> Select[Merchant]:
    """Merchants the client may act for (``client_id`` may be a bind parameter)."""
    return (
        select(Merchant)
        .join(ClientMerchant, ClientMerchant.merchant_id == Merchant.id)
        .where(ClientMerchant.client_id == client_id)
    )


async def granted_merchant(session: AsyncSession, *, client_id: str, merchant_id: str) -> Merchant:
    """The merchant, if granted to the client; another tenant's merchant is simply not found."""
    merchant = await session.scalar(granted_query(client_id).where(Merchant.id == merchant_id))
    if merchant is None:
        raise NotFound(f"merchant {merchant_id} not found")
    return merchant


async def create_location(
    session: WriteSession,
    *,
    merchant_id: str,
    name: str,
    street: str = "",
    city: str = "",
    state: str = "",
    zip: str = "",
    phone: str = "",
    actor: Actor,
) -> Location:
    await get_merchant(session, merchant_id)
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    location = Location(
        merchant_id=merchant_id,
        name=name.strip(),
        street=street,
        city=city,
        state=state,
        zip=zip,
        phone=phone,
    )
    session.add(location)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="location.created",
        target_type="location",
        target_id=location.id,
        changes={"merchant_id": merchant_id, "name": location.name},
    )
    return location


def locations_query(*, merchant_ids: list[str] | None = None) -> Select[Location]:
    stmt = select(Location)
    if merchant_ids is not None:
        stmt = stmt.where(Location.merchant_id.in_(merchant_ids))
    return stmt


async def list_locations(
    session: AsyncSession, *, merchant_id: str, cursor: str | None, limit: int
) -> CursorPage[Location]:
    """A merchant's locations, a page at a time (NotFound for an unknown merchant)."""
    await get_merchant(session, merchant_id)
    stmt = locations_query(merchant_ids=[merchant_id])
    return await cursor_paginate(session, stmt, Location.id, cursor=cursor, limit=limit)


async def create_business_unit(
    session: WriteSession, *, merchant_id: str, name: str, actor: Actor
) -> BusinessUnit:
    await get_merchant(session, merchant_id)
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    exists = await session.scalar(
        select(BusinessUnit.id).where(
            BusinessUnit.merchant_id == merchant_id, BusinessUnit.name == name
        )
    )
    if exists:
        raise Conflict(f"business unit {name!r} already exists for this merchant")
    unit = BusinessUnit(merchant_id=merchant_id, name=name)
    session.add(unit)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="business_unit.created",
        target_type="business_unit",
        target_id=unit.id,
        changes={"merchant_id": merchant_id, "name": name},
    )
    return unit


def business_units_query(*, merchant_id: str | None = None) -> Select[BusinessUnit]:
    stmt = select(BusinessUnit)
    if merchant_id:
        stmt = stmt.where(BusinessUnit.merchant_id == merchant_id)
    return stmt


async def list_business_units(
    session: AsyncSession, *, merchant_id: str, cursor: str | None, limit: int
) -> CursorPage[BusinessUnit]:
    """A merchant's business units, a page at a time (NotFound for an unknown merchant)."""
    await get_merchant(session, merchant_id)
    stmt = business_units_query(merchant_id=merchant_id)
    return await cursor_paginate(session, stmt, BusinessUnit.id, cursor=cursor, limit=limit)
