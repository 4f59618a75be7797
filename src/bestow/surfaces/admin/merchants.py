"""Admin API: merchants, their locations and business units."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.merchants import service as merchants
from bestow.models import BusinessUnit, Location, Merchant
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import (
    BusinessUnitIn,
    Cursor,
    Limit,
    LocationIn,
    MerchantIn,
    MerchantPatch,
)
from bestow.views.merchants import BusinessUnitOut, LocationOut, MerchantOut
from bestow.views.pages import ListOut, listing

router = APIRouter(prefix="/admin", tags=["Admin API"])


@router.post("/merchants", status_code=201, response_model=MerchantOut)
async def create_merchant(
    body: MerchantIn, actor: AdminActor, session: WriteSessionDep
) -> Merchant:
    """Create a merchant."""
    return await merchants.create_merchant(session, actor=actor, **body.model_dump())


@router.get("/merchants", response_model=ListOut[MerchantOut])
async def list_merchants(
    _: AdminActor, session: ReadSessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    """List merchants."""
    return listing(await merchants.list_merchants(session, cursor=cursor, limit=limit))


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
async def get_merchant(merchant_id: str, _: AdminActor, session: ReadSessionDep) -> Merchant:
    """One merchant."""
    return await merchants.get_merchant(session, merchant_id)


@router.patch("/merchants/{merchant_id}", response_model=MerchantOut)
async def update_merchant(
    merchant_id: str, body: MerchantPatch, actor: AdminActor, session: WriteSessionDep
) -> Merchant:
    """Change a merchant's name, time zone or enrolment option."""
    return await merchants.update_merchant(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump(exclude_unset=True)
    )


@router.post("/merchants/{merchant_id}/locations", status_code=201, response_model=LocationOut)
async def create_location(
    merchant_id: str, body: LocationIn, actor: AdminActor, session: WriteSessionDep
) -> Location:
    """Add a location to a merchant."""
    return await merchants.create_location(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump()
    )


@router.get("/merchants/{merchant_id}/locations", response_model=ListOut[LocationOut])
async def list_locations(
    merchant_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """A merchant's locations."""
    return listing(
        await merchants.list_locations(session, merchant_id=merchant_id, cursor=cursor, limit=limit)
    )


@router.post(
    "/merchants/{merchant_id}/business_units", status_code=201, response_model=BusinessUnitOut
)
async def create_business_unit(
    merchant_id: str, body: BusinessUnitIn, actor: AdminActor, session: WriteSessionDep
) -> BusinessUnit:
    """Add a business unit to a merchant."""
    return await merchants.create_business_unit(
        session, merchant_id=merchant_id, name=body.name, actor=actor
    )


@router.get("/merchants/{merchant_id}/business_units", response_model=ListOut[BusinessUnitOut])
async def list_business_units(
    merchant_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """A merchant's business units."""
    return listing(
        await merchants.list_business_units(
            session, merchant_id=merchant_id, cursor=cursor, limit=limit
        )
    )
