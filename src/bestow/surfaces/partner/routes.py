"""Partner API (Thanx-compatible, v4.0): discovery."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import bindparam

from bestow.deps import ReadSessionDep, runtime_of
from bestow.kit.auth_cache import AuthCache
from bestow.kit.pagination import paginate
from bestow.merchants import service as merchants
from bestow.models import Location, Merchant
from bestow.surfaces.common import note
from bestow.surfaces.partner.auth import PartnerClient
from bestow.surfaces.partner.schemas import (
    LocationOut,
    LocationsOut,
    MerchantsOut,
    Pagination,
    PartnerError,
    ScopesOut,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": PartnerError, "description": text}
    for status, text in {
        400: "Bad request (missing or unsupported Accept-Version, invalid parameters)",
        401: "Missing or invalid credentials",
        404: "Unknown resource, or one of another client",
        429: "Rate limit exceeded",
    }.items()
}

router = APIRouter(prefix="/partner", tags=["Partner API"], responses=ERRORS)

Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100")]


GRANTED_MERCHANTS = (
    merchants.granted_query(bindparam("client_id"))
    .with_only_columns(Merchant.id, Merchant.name, Merchant.handle)
    .order_by(Merchant.id)
)


@router.get("/merchants", response_model=MerchantsOut)
async def get_merchants(client: PartnerClient, request: Request) -> Any:
    """The merchants this client can currently act for.

    Discovery data changes rarely and integrators poll it: each process keeps the rendered list
    of a client for ``BESTOW_AUTH_CACHE_SECONDS``, the same bound the credential cache has.
    """
    cache: AuthCache[bytes] = request.app.state.partner_merchants_cache
    body = cache.get((client.id,))
    if body is None:
        async with runtime_of(request).db.engine.connect() as conn:
            rows = await conn.execute(GRANTED_MERCHANTS, {"client_id": client.id})
            body = orjson.dumps(
                {"merchants": [{"id": r[0], "name": r[1], "handle": r[2]} for r in rows]}
            )
        cache.put((client.id,), body)
    return Response(body, media_type="application/json")


@router.get("/locations", response_model=LocationsOut)
async def get_locations(
    client: PartnerClient,
    session: ReadSessionDep,
    request: Request,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Page = 1,
    per_page: PerPage = 10,
) -> LocationsOut:
    """Locations of the client's merchants, optionally of one merchant."""
    if merchant_id is not None:
        note(request, object_id=merchant_id)
        await merchants.granted_merchant(session, client_id=client.id, merchant_id=merchant_id)
        merchant_ids = [merchant_id]
    else:
        merchant_ids = [m.id for m in await session.scalars(merchants.granted_query(client.id))]
    stmt = merchants.locations_query(merchant_ids=merchant_ids).order_by(Location.id)
    result = await paginate(session, stmt, page=page, per_page=per_page)
    return LocationsOut(
        locations=[LocationOut.model_validate(loc, from_attributes=True) for loc in result.items],
        pagination=Pagination.of(result),  # type: ignore[arg-type]
    )


@router.get("/scopes", response_model=ScopesOut)
async def get_scopes(client: PartnerClient) -> ScopesOut:
    """The scopes this credential carries."""
    return ScopesOut(scopes=sorted(client.scopes))
