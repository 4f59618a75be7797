"""Admin API: campaigns of every surface (``bestow.campaigns.listing``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bestow.campaigns import listing
from bestow.deps import ReadSessionDep
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.campaigns import AdminCampaignOut, campaign_list
from bestow.views.pages import ListOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

STATUS = "^(" + "|".join(listing.STATUSES) + ")$"
SURFACE = "^(" + "|".join(listing.SURFACES) + ")$"


@router.get("/campaigns", response_model=ListOut[AdminCampaignOut])
async def list_campaigns(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str | None, Query(pattern=STATUS, description="Derived from the time, as each surface's")
    ] = None,
    surface: Annotated[
        str | None, Query(pattern=SURFACE, description="The surface that created it")
    ] = None,
) -> Any:
    """Campaigns of every surface (Partner with their variants, Operator), newest first."""
    filters = listing.Filters(
        client_id=client_id, merchant_id=merchant_id, status=status, surface=surface
    )
    return await campaign_list(session, filters, cursor=cursor, limit=limit)
