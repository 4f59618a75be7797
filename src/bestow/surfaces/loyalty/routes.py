"""Loyalty API routes under ``/client`` (ES Loyalty-compatible): ``POST /client/users/{identifier}
/sessions`` opens a member's session, ``POST /client/users/{correlation_id}/adhoc-reward/``
awards or deducts points in it (``docs/loyalty.md``).

Bodies are read by hand, not by a pydantic model: the seed's refusals name fields in its own
words (``channel is mandatory and required to be non-empty``) and in its own order, which a
model's validation errors would not. The models below document the routes in OpenAPI only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.deps import Runtime, RuntimeDep, WriteSessionDep
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.idempotency import StoredResponse
from bestow.kit.timefmt import iso
from bestow.loyalty import adhoc, ledger, sessions
from bestow.surfaces.bodies import MISSING, Body, Read
from bestow.surfaces.common import Unkeyed, documented_body, idempotent, json_object
from bestow.surfaces.loyalty.auth import LoyaltyClient

CORRELATION_REQUIRED = "correlationId is mandatory and required to be non-empty"
IDENTIFIER_TYPE_INVALID = "X-Identifier-Type must be one of " + ", ".join(sessions.IDENTIFIER_TYPES)
SESSION_SIZES = {"correlationId": 100, "channel": 40, "externalAgentSessionId": 100}
"""The columns' sizes (``LoyaltySession``): longer values are refused, not cut."""
JSON = {"content-type": "application/json"}


class ErrorOut(BaseModel):
    statusCode: int
    errorCode: str = Field(description="INVALID_REQUEST, UNAUTHORIZED, FORBIDDEN, ...")
    errorMessage: str


class SessionOut(BaseModel):
    accountId: str = Field(description="The member's account GUID")
    loyaltyId: str | None = Field(description="The member's card number, if any")
    status: str = Field(description="ACTIVE or INACTIVE (ad hoc rewards need ACTIVE)")
    pointsBalance: int
    availablePointBalance: int = Field(
        description="Points the session may redeem: 0 in a PHONE_NUMBER session"
    )
    correlationId: str
    channel: str
    identifierType: str
    expiresAt: str = Field(description="When the session ends unless used again (UTC)")


class AdhocIn(BaseModel):
    channel: str = Field(description='e.g. "APP" or "POS"')
    businessUnit: str = Field(description="A business unit's name, matched literally")
    issuerId: str
    rewardId: str = Field(description="An enabled ad hoc reward of the programme")
    rewardAmount: int = Field(description="Non-zero; negative deducts")
    externalReferenceId: str | None = Field(
        default=None, description="The client's reference: a repeat credits nothing more"
    )


class AdhocOut(BaseModel):
    transactionId: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "INVALID_REQUEST, with the reason in errorMessage"},
    401: {"model": ErrorOut, "description": "Missing, expired or invalid access token"},
    403: {"model": ErrorOut, "description": "The token lacks the loyalty.adhoc_reward scope"},
}


router = APIRouter(prefix="/client", tags=["Loyalty API"], responses=ERRORS)


def _optional(value: Any, field: str) -> str | None:
    """A string field of the session body; null or blank is absent."""
    if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string", field=field)
    if len(value) > SESSION_SIZES[field]:
        raise Invalid(adhoc.TOO_LONG.format(field=field, size=SESSION_SIZES[field]), field=field)
    if not fields.is_clean(value):
        raise Invalid(adhoc.CONTROL_CHARACTERS.format(field=field), field=field)
    return value


def _correlation_id(value: Any, field: str) -> str:
    correlation_id = _optional(value, field)
    if correlation_id is None:
        raise Invalid(CORRELATION_REQUIRED, field=field)
    try:
        # It names the session in later paths (/client/users/{correlationId}/...), which a
        # path separator would never reach again.
        fields.identifier(correlation_id)
    except fields.FieldError as exc:
        raise Invalid(f"{field} {exc}", field=field) from None
    return correlation_id


def _channel(value: Any, field: str) -> str:
    channel = _optional(value, field)
    if channel is None:
        raise Invalid(adhoc.CHANNEL_REQUIRED, field=field)
    return channel


class SessionIn(Body):
    correlationId: Annotated[str, Read(_correlation_id)] = Field(
        max_length=100, description="Names the session in later calls"
    )
    channel: Annotated[str, Read(_channel)] = Field(
        max_length=40, description='e.g. "APP", "POS", "STORE"'
    )
    externalAgentSessionId: Annotated[str | None, Read(_optional)] = Field(
        default=None, max_length=100
    )


def _idle(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.loyalty_session_idle_seconds)


@router.post(
    "/users/{identifier}/sessions",
    response_model=SessionOut,
    openapi_extra=SessionIn.openapi(),
)
async def start_session(
    identifier: str,
    request: Request,
    client: LoyaltyClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
    identifier_type: Annotated[
        str,
        Header(
            alias="X-Identifier-Type",
            description="ACCOUNT_ID (default), LOYALTY_ID, EMAIL, PHONE_NUMBER or EXTERNAL_ID",
        ),
    ] = "ACCOUNT_ID",
) -> Response:
    """Start (or renew) a session for a member of a programme granted to the client; 200 with
    the account. Later calls name it by `correlationId` until it has been idle too long.

    Reusing a `correlationId` renews that session (for the member found now), so a retry is
    harmless: hence 200, not 201. An unknown account is `400 Could not find the account`, as in
    the ad hoc reward. A session opened by `PHONE_NUMBER` cannot redeem
    (`availablePointBalance` 0); ad hoc awards and deductions work in any session."""
    if identifier_type not in sessions.IDENTIFIER_TYPES:
        raise Invalid(IDENTIFIER_TYPE_INVALID, field="X-Identifier-Type")
    body = await SessionIn.from_request(request)
    member = await sessions.find_member(
        session, client_id=client.id, identifier_type=identifier_type, identifier=identifier
    )
    if member is None:
        raise Invalid(adhoc.ACCOUNT_NOT_FOUND)
    opened = await sessions.open_session(
        session,
        client_id=client.id,
        member=member,
        correlation_id=body.correlationId,
        identifier_type=identifier_type,
        channel=body.channel,
        external_agent_session_id=body.externalAgentSessionId,
        idle=_idle(runtime),
    )
    balance = await ledger.balance_of(session, member.id)
    account = SessionOut(
        accountId=member.account_id,
        loyaltyId=member.loyalty_id,
        status=member.status.upper(),
        pointsBalance=balance,
        availablePointBalance=0 if identifier_type == "PHONE_NUMBER" else balance,
        correlationId=opened.correlation_id,
        channel=opened.channel,
        identifierType=opened.identifier_type,
        expiresAt=iso(opened.expires_at) or "",
    )
    return Response(account.model_dump_json(), media_type="application/json")


UNKEYED_AWARD = Unkeyed(
    "Idempotency-Key or externalReferenceId", "a repeat of this request moves the points again"
)


# Both spellings are routes of their own: a redirect would make clients send the POST twice.
@router.post(
    "/users/{correlation_id}/adhoc-reward/",
    response_model=AdhocOut,
    openapi_extra=documented_body(AdhocIn),
)
@router.post("/users/{correlation_id}/adhoc-reward", include_in_schema=False)
async def issue_adhoc_reward(
    correlation_id: str,
    request: Request,
    client: LoyaltyClient,
    runtime: RuntimeDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="A repeat with the same body returns the stored response",
        ),
    ] = None,
) -> Response:
    """Award (positive `rewardAmount`) or deduct (negative) points in the member's session;
    200 with the transaction. Every refusal is `400 INVALID_REQUEST` with the seed's message,
    checked in the order of `docs/loyalty.md`.

    A repeated `externalReferenceId` (same member and `rewardId`) returns the first transaction
    and credits nothing. A repeated `Idempotency-Key` returns the stored response; with another
    body it is refused (422). Refusals are not stored: a corrected retry may reuse the key."""
    body = await json_object(request)

    async def work(session: AsyncSession) -> StoredResponse:
        movement = await adhoc.issue(
            session,
            client_id=client.id,
            correlation_id=correlation_id,
            body=body,
            idle=_idle(runtime),
        )
        out = AdhocOut(transactionId=movement.transaction.id, message=adhoc.message(movement))
        return StoredResponse(200, JSON, out.model_dump_json().encode())

    response, _ = await idempotent(
        request,
        runtime,
        client_id=client.id,
        key=idempotency_key,
        route="POST /client/users/{correlation_id}/adhoc-reward/",
        work=work,
        without_key=None if body.get("externalReferenceId") else UNKEYED_AWARD,
    )
    return response
