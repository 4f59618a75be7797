"""Loyalty API routes under ``/client`` (ES Loyalty-compatible): ``POST /client/users/{identifier}
/sessions`` opens a member's session, ``POST /client/users/{correlation_id}/adhoc-reward/``
awards or deducts points in it (``docs/loyalty.md``).

Each body is one ``Body`` declaration (``surfaces.bodies``): its fields' readers refuse in the
seed's own words (``channel is mandatory and required to be non-empty``) and order, which a
model's validation errors would not, and the same model documents the route in OpenAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bestow.deps import Runtime, RuntimeDep, WriteSessionDep
from bestow.kit import fields
from bestow.kit.db import WriteSession
from bestow.kit.errors import Invalid
from bestow.kit.idempotency import StoredResponse
from bestow.kit.timefmt import iso
from bestow.loyalty import adhoc, ledger, sessions
from bestow.surfaces.bodies import MISSING, Body, Read
from bestow.surfaces.common import Unkeyed, idempotent, json_object, note
from bestow.surfaces.loyalty.auth import LoyaltyClient

CORRELATION_REQUIRED = "correlationId is mandatory and required to be non-empty"
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


def _text(missing: str) -> Callable[[Any, str], str]:
    """A mandatory text field of the ad hoc reward body, refused with ``missing`` when absent."""
    return lambda value, name: adhoc.text(None if value is MISSING else value, name, missing)


def _amount(value: Any, _: str) -> int:
    return adhoc.amount(None if value is MISSING else value)


def _reference(value: Any, name: str) -> str | None:
    return adhoc.external_reference(None if value is MISSING else value, name)


# The ad hoc reward body, read in the seed's order (docs/loyalty.md): issuerId, rewardId,
# rewardAmount, Business Unit, then channel and the reference (so its fields are declared in that
# order). A field it does not name is refused last, so that a misspelt externalReferenceId cannot
# silently lose its duplicate protection. (No docstring: it would become the schema's description.)
class AdhocIn(Body):
    unknown_fields_last = True

    issuerId: Annotated[str, Read(_text(adhoc.ISSUER_REQUIRED))]
    rewardId: Annotated[str, Read(_text(adhoc.REWARD_REQUIRED))] = Field(
        description="An enabled ad hoc reward of the programme"
    )
    rewardAmount: Annotated[int, Read(_amount)] = Field(description="Non-zero; negative deducts")
    businessUnit: Annotated[str, Read(_text(adhoc.UNIT_REQUIRED))] = Field(
        description="A business unit's name, matched literally"
    )
    channel: Annotated[str, Read(_text(adhoc.CHANNEL_REQUIRED))] = Field(
        description='e.g. "APP" or "POS"'
    )
    externalReferenceId: Annotated[str | None, Read(_reference)] = Field(
        default=None, description="The client's reference: a repeat credits nothing more"
    )

    def request(self) -> adhoc.AdhocRequest:
        return adhoc.AdhocRequest(
            channel=self.channel,
            business_unit=self.businessUnit,
            issuer_id=self.issuerId,
            reward_id=self.rewardId,
            amount=self.rewardAmount,
            external_reference_id=self.externalReferenceId,
        )


def read_adhoc(data: dict[str, Any]) -> adhoc.AdhocRequest | Invalid:
    """The ad hoc reward body as read, or the refusal its reading raised (the domain answers a
    client without the feature first, whatever its body)."""
    try:
        return AdhocIn.read(data).request()
    except Invalid as refusal:
        return refusal


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
    sessions.check_identifier_type(identifier_type)
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


REFUSED_RULES = {
    adhoc.OVER_MAXIMUM: "refused_amount",
    adhoc.AMOUNT_NOT_INTEGER: "refused_amount",
    adhoc.INSUFFICIENT: "refused_amount",
    adhoc.REWARD_INVALID: "refused_reward",
    adhoc.ACCOUNT_NOT_FOUND: "session_unknown",
}
"""Refusals the certification report tells apart (``docs/certification-loyalty.md``), noted as
flags in the request log's ``body.counts``: never the message nor a value of the request."""


def refusal_flag(message: str) -> str | None:
    """The request log's flag of an ad hoc reward refusal the checklist judges, if any."""
    if message.startswith("Business Unit ") and message.endswith(" is not a valid business unit"):
        return "refused_business_unit"
    return REFUSED_RULES.get(message)


UNKEYED_AWARD = Unkeyed(
    "Idempotency-Key or externalReferenceId", "a repeat of this request moves the points again"
)


# Both spellings are routes of their own: a redirect would make clients send the POST twice.
@router.post(
    "/users/{correlation_id}/adhoc-reward/",
    response_model=AdhocOut,
    openapi_extra=AdhocIn.openapi(),
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
    data = await json_object(request)
    reference = data.get("externalReferenceId")
    counts = {"reference": 1 if isinstance(reference, str) and reference.strip() else 0}
    note(request, counts=counts)
    if isinstance(reference, str) and reference:
        note(request, idempotency_key=reference)
    body = read_adhoc(data)

    async def work(session: WriteSession) -> StoredResponse:
        try:
            movement = await adhoc.issue(
                session,
                client_id=client.id,
                correlation_id=correlation_id,
                body=body,
                idle=_idle(runtime),
            )
        except Invalid as refusal:
            flag = refusal_flag(refusal.message)
            if flag is not None:
                counts[flag] = 1
            raise
        if movement.replayed:
            note(request, replayed=True)
        out = AdhocOut(transactionId=movement.transaction.id, message=adhoc.message(movement))
        return StoredResponse(200, JSON, out.model_dump_json().encode())

    response, _ = await idempotent(
        request,
        runtime,
        client_id=client.id,
        key=idempotency_key,
        route="POST /client/users/{correlation_id}/adhoc-reward/",
        work=work,
        without_key=None if data.get("externalReferenceId") else UNKEYED_AWARD,
    )
    return response
