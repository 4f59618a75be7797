"""Operator API campaigns under ``/v1/campaigns`` (Gamnify-compatible; ``docs/operator-api.md``).

Bodies are read by hand, not by a pydantic model: the refusals use the vendor's words
(``name is required and cannot be empty or whitespace``) in the seed's order. The models below
document the routes in OpenAPI only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from bestow.campaigns import operator as campaigns
from bestow.campaigns.service import status
from bestow.clients.service import AuthenticatedClient
from bestow.deps import RuntimeDep
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.fields import FieldError, OutOfRange
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import Campaign
from bestow.surfaces.common import documented_body, json_object
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.errors import ok
from bestow.surfaces.operator.routing import OperatorRouter

NAME_REQUIRED = "name is required and cannot be empty or whitespace"
CREATED_BY_REQUIRED = "createdBy is required and cannot be empty or whitespace"
CANCELLED_BY_REQUIRED = "cancelledBy is required and cannot be empty or whitespace"
START_REQUIRED = "startTimeUtc is required"
NOT_DATE_TIME = "{field} must be an ISO 8601 date-time"
NOT_STRING = "{field} must be a string"
TOO_LONG = "{field} must be at most {size} characters"
SIZES = {
    "name": 200,
    "createdBy": 200,
    "cancelledBy": 200,
    "operatorReference": 200,
    "termsAndConditionsUrl": 2000,
    "description": 4000,
    "operatorPlayerId": 200,
    "betId": 200,
    "product": 200,
}
"""The columns' sizes (``Campaign``); ``description`` is bounded here, not by its column."""
MULTILINE = ("description",)


class EnvelopeOut(BaseModel):
    message: str = Field(description='"OK", or what went wrong')
    data: Any = Field(description="The result; {} when there is none")
    responseCode: str = Field(description="OK, ValidationError, Unauthorized, NotFound, ...")


class CreateCampaignIn(BaseModel):
    name: str
    description: str | None = None
    operatorReference: str | None = None
    termsAndConditionsUrl: str | None = None
    startTimeUtc: datetime
    endTimeUtc: datetime | None = Field(default=None, description="Absent: runs until cancelled")
    createdBy: str


class CancelCampaignIn(BaseModel):
    cancelledBy: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": EnvelopeOut, "description": "ValidationError, with the rule in message"},
    401: {"model": EnvelopeOut, "description": "Unauthorized: missing or wrong hash"},
    403: {"model": EnvelopeOut, "description": "Forbidden: lacks the operator.campaigns scope"},
    404: {"model": EnvelopeOut, "description": "NotFound"},
    429: {"model": EnvelopeOut, "description": "RateLimited"},
}


router = OperatorRouter(prefix="/v1", tags=["Operator API"], responses=ERRORS)


def _optional(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(NOT_STRING.format(field=field), field=field)
    if len(value) > SIZES[field]:
        raise Invalid(TOO_LONG.format(field=field, size=SIZES[field]), field=field)
    try:
        # Blank is the caller's to judge (the vendor words "required" itself).
        fields.text(value.strip(), multiline=field in MULTILINE)
        return value
    except FieldError as exc:
        raise Invalid(f"{field} {exc}", field=field) from None


def _required(body: dict[str, Any], field: str, missing: str) -> str:
    value = _optional(body, field)
    if value is None or not value.strip():
        raise Invalid(missing, field=field)
    return value.strip()


def _date_time(body: dict[str, Any], field: str) -> datetime | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(NOT_DATE_TIME.format(field=field), field=field)
    try:
        # A time without an offset is read as UTC, as the field names say.
        return fields.date_time(value, naive_is_utc=True)
    except OutOfRange as exc:
        raise Invalid(f"{field} {exc}", field=field) from None
    except FieldError:
        raise Invalid(NOT_DATE_TIME.format(field=field), field=field) from None


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


@router.post(
    "/campaigns", response_model=EnvelopeOut, openapi_extra=documented_body(CreateCampaignIn)
)
async def create_campaign(
    request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Create a campaign; 200 with it. `endTimeUtc` absent or null: it runs until cancelled."""
    body = await json_object(request, CreateCampaignIn)
    name = _required(body, "name", NAME_REQUIRED)
    created_by = _required(body, "createdBy", CREATED_BY_REQUIRED)
    start_at = _date_time(body, "startTimeUtc")
    if start_at is None:
        raise Invalid(START_REQUIRED, field="startTimeUtc")
    end_at = _date_time(body, "endTimeUtc")
    description = _optional(body, "description")
    reference = _optional(body, "operatorReference")
    terms_url = _optional(body, "termsAndConditionsUrl")
    async with runtime.db.write_session() as session:
        campaign = await campaigns.create(
            session,
            client_id=client.id,
            name=name,
            description=description,
            operator_reference=reference,
            terms_url=terms_url,
            start_at=start_at,
            end_at=end_at,
            created_by=created_by,
        )
        await session.commit()
    return _out(campaign, client, runtime.clock())


@router.get("/campaigns", response_model=EnvelopeOut)
async def list_campaigns(client: OperatorClient, runtime: RuntimeDep) -> JSONResponse:
    """The operator's campaigns, oldest first."""
    async with runtime.db.session() as session:
        found = await campaigns.list_for(session, client_id=client.id)
    now = runtime.clock()
    return ok([campaign_json(c, client.operator_id, now) for c in found])


@router.get("/campaigns/{campaign_id}", response_model=EnvelopeOut)
async def get_campaign(
    campaign_id: str, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """One of the operator's campaigns; another operator's is NotFound."""
    async with runtime.db.session() as session:
        campaign = await campaigns.get(session, client_id=client.id, campaign_id=campaign_id)
    return _out(campaign, client, runtime.clock())


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(CancelCampaignIn),
    responses={409: {"model": EnvelopeOut, "description": "Conflict: Ended or Cancelled"}},
)
async def cancel_campaign(
    campaign_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Cancel a Scheduled or Active campaign; 200 with `data: {}`."""
    body = await json_object(request, CancelCampaignIn)
    cancelled_by = _required(body, "cancelledBy", CANCELLED_BY_REQUIRED)
    async with runtime.db.write_session() as session:
        await campaigns.cancel(
            session,
            client_id=client.id,
            campaign_id=campaign_id,
            cancelled_by=cancelled_by,
            now=runtime.clock(),
        )
        await session.commit()
    return ok()
