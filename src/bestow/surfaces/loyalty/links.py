"""Search Loyalty Account (``GET /client/partners/{partner_id}/accounts/links``): up to 25
identifiers of one type, each with its account and link status (``docs/loyalty.md``).

``partner_id`` is the calling client's own id; identifiers are comma separated in
``identifiers``. Query parameters are read as text and checked by ``bestow.loyalty.links``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bestow.deps import ReadSessionDep
from bestow.loyalty import links
from bestow.surfaces.loyalty.auth import LoyaltyClient
from bestow.surfaces.loyalty.routes import ERRORS, ErrorOut

router = APIRouter(prefix="/client", tags=["Loyalty API"], responses=ERRORS)


class BalanceOut(BaseModel):
    pointsBalance: int


class SearchResultOut(BaseModel):
    requestParameter: str = Field(description="The identifier, as asked")
    accountId: str | None = Field(description="The account's GUID; null when none was found")
    accountStatus: str = Field(description="ACTIVE or INVALID")
    loyaltyId: str | None
    linkStatus: str = Field(
        description="CAN_LINK; GHOST (the account exists but is not active); INVALID (none)"
    )
    balance: BalanceOut | None = Field(
        default=None,
        description="Only with includeBalance=true: the balance of an ACTIVE account, else null",
    )


class SearchOut(BaseModel):
    searchResults: list[SearchResultOut] = Field(description="In the order asked")


def _result(result: links.SearchResult) -> SearchResultOut:
    member = result.member
    return SearchResultOut(
        requestParameter=result.request_parameter,
        accountId=member.account_id if member is not None else None,
        accountStatus=result.account_status,
        loyaltyId=member.loyalty_id if member is not None else None,
        linkStatus=result.link_status,
        balance=BalanceOut(pointsBalance=result.balance) if result.balance is not None else None,
    )


@router.get(
    "/partners/{partner_id}/accounts/links",
    response_model=SearchOut,
    responses={404: {"model": ErrorOut, "description": "partner_id is not the client's id"}},
)
async def search_loyalty_accounts(
    partner_id: str,
    client: LoyaltyClient,
    session: ReadSessionDep,
    identifiers: Annotated[
        str | None,
        Query(description=f"1 to {links.MAX_IDENTIFIERS} identifiers, comma separated"),
    ] = None,
    identifier_type: Annotated[
        str | None,
        Header(
            alias="X-Identifier-Type",
            description="LOYALTY_ID (default), EMAIL or PARTNER_LINK_ID",
        ),
    ] = None,
    account_status: Annotated[
        str | None,
        Query(alias="accountStatus", description="Only these: ACTIVE, INVALID (comma separated)"),
    ] = None,
    link_status: Annotated[
        str | None,
        Query(
            alias="linkStatus",
            description="Only these: CAN_LINK, GHOST, INVALID (comma separated)",
        ),
    ] = None,
    include_balance: Annotated[
        str | None,
        Query(alias="includeBalance", description="true: the points balance of ACTIVE accounts"),
    ] = None,
) -> Response:
    """Look up to 25 loyalty ids, emails or partner link ids among the members of the
    programmes granted to the client; one result per identifier, in the order asked, then
    filtered by `accountStatus` and `linkStatus`.

    A partner link id is the member's external id in the namespace `partner.<client id>`. An
    identifier naming no account (or two, in two programmes) is `INVALID`/`INVALID`; an
    inactive account is `INVALID`/`GHOST`."""
    request = links.parse_request(
        identifier_type=identifier_type,
        identifiers=identifiers,
        account_status=account_status,
        link_status=link_status,
        include_balance=include_balance,
    )
    results = await links.search(
        session, client_id=client.id, partner_id=partner_id, request=request
    )
    out = SearchOut(searchResults=[_result(r) for r in results])
    hidden = None if request.include_balance else {"searchResults": {"__all__": {"balance"}}}
    return Response(out.model_dump_json(exclude=hidden), media_type="application/json")
