"""Operator API campaigns under ``/v1/campaigns`` (Gamnify-compatible; ``docs/operator-api.md``).

The rules are the free-bets domain's (``bestow.freebets.campaigns``); this module reads bodies in
the vendor's words (``readers``) and answers in its casing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import Field

from bestow.campaigns.service import status
from bestow.clients.service import AuthenticatedClient
from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.freebets import campaigns
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import Campaign
from bestow.surfaces.bodies import Body, Read
from bestow.surfaces.common import note
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.errors import ok
from bestow.surfaces.operator.readers import (
    CANCELLED_BY_REQUIRED,
    CREATED_BY_REQUIRED,
    NAME_REQUIRED,
    START_REQUIRED,
    date_time,
    required,
    required_date_time,
    text,
)
from bestow.surfaces.operator.routing import EnvelopeOut, conflict
from bestow.surfaces.operator.routing import router as operator_router


# The fields in the order their rules refuse: the first refusal is the one answered.
class CreateCampaignIn(Body):
    name: Annotated[str, Read(required(NAME_REQUIRED))]
    createdBy: Annotated[str, Read(required(CREATED_BY_REQUIRED))]
    startTimeUtc: Annotated[datetime, Read(required_date_time(START_REQUIRED))]
    endTimeUtc: Annotated[datetime | None, Read(date_time)] = Field(
        default=None, description="Absent: runs until cancelled"
    )
    description: Annotated[str | None, Read(text)] = None
    operatorReference: Annotated[str | None, Read(text)] = None
    termsAndConditionsUrl: Annotated[str | None, Read(text)] = None


class CancelCampaignIn(Body):
    cancelledBy: Annotated[str, Read(required(CANCELLED_BY_REQUIRED))]


router = operator_router()


def campaign_json(campaign: Campaign, operator_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "operatorId": operator_id,
        "name": campaign.name,
        "description": campaign.objective or None,
        "operatorReference": campaign.operator_reference,
        "termsAndConditionsUrl": campaign.terms_url,
        "startTimeUtc": iso(campaign.start_at),
        "endTimeUtc": iso(campaign.end_at),
        "status": status(campaign, now).value,
        "createdAtUtc": iso(campaign.created_at),
        "createdBy": campaign.created_by,
        # Nothing updates an operator campaign yet: updated_by stays blank and both are null.
        "updatedAtUtc": iso(campaign.updated_at) if campaign.updated_by else None,
        "updatedBy": campaign.updated_by or None,
        "cancelledAtUtc": iso(campaign.cancelled_at),
        "cancelledBy": campaign.cancelled_by,
    }


def _out(campaign: Campaign, client: AuthenticatedClient, now: datetime) -> JSONResponse:
    return ok(campaign_json(campaign, client.operator_id, now))


@router.post("/campaigns", response_model=EnvelopeOut, openapi_extra=CreateCampaignIn.openapi())
async def create_campaign(
    request: Request, client: OperatorClient, runtime: RuntimeDep, session: WriteSessionDep
) -> JSONResponse:
    """Create a campaign; 200 with it. `endTimeUtc` absent or null: it runs until cancelled."""
    body = await CreateCampaignIn.from_request(request)
    campaign = await campaigns.create(
        session,
        client_id=client.id,
        name=body.name,
        description=body.description,
        operator_reference=body.operatorReference,
        terms_url=body.termsAndConditionsUrl,
        start_at=body.startTimeUtc,
        end_at=body.endTimeUtc,
        created_by=body.createdBy,
    )
    note(request, object_id=campaign.id)
    return _out(campaign, client, runtime.clock())


@router.get("/campaigns", response_model=EnvelopeOut)
async def list_campaigns(
    client: OperatorClient, runtime: RuntimeDep, session: ReadSessionDep
) -> JSONResponse:
    """The operator's campaigns, oldest first."""
    found = await campaigns.list_for(session, client_id=client.id)
    now = runtime.clock()
    return ok([campaign_json(c, client.operator_id, now) for c in found])


@router.get("/campaigns/{campaign_id}", response_model=EnvelopeOut)
async def get_campaign(
    campaign_id: str, client: OperatorClient, runtime: RuntimeDep, session: ReadSessionDep
) -> JSONResponse:
    """One of the operator's campaigns; another operator's is NotFound."""
    campaign = await campaigns.get(session, client_id=client.id, campaign_id=campaign_id)
    return _out(campaign, client, runtime.clock())


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=CancelCampaignIn.openapi(),
    responses=conflict("Conflict: Ended or Cancelled"),
)
async def cancel_campaign(
    campaign_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Cancel a Scheduled or Active campaign; 200 with `data: {}`."""
    body = await CancelCampaignIn.from_request(request)
    await campaigns.cancel(
        session,
        client_id=client.id,
        campaign_id=campaign_id,
        cancelled_by=body.cancelledBy,
        now=runtime.clock(),
        clock=runtime.clock,
    )
    return ok()
