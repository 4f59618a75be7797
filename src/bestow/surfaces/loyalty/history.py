"""Transaction History (``GET /client/users/{correlation_id}/transactions/history/v2``): the
session member's points transactions, newest first, paged by ``transactionId``
(``docs/loyalty.md``).

Query parameters are read as text and checked by ``bestow.loyalty.history``, so that a bad one
is refused with its own message (400 ``INVALID_REQUEST``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bestow.deps import RuntimeDep, WriteSessionDep
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.loyalty import history
from bestow.loyalty.adhoc import ACCOUNT_NOT_FOUND
from bestow.surfaces.common import note
from bestow.surfaces.loyalty.auth import LoyaltyClient
from bestow.surfaces.loyalty.routes import ERRORS

router = APIRouter(prefix="/client", tags=["Loyalty API"], responses=ERRORS)


class TransactionOut(BaseModel):
    transactionId: str = Field(description="ptx_..., the cursor of the next page when last")
    transactionType: str = Field(description="AD_HOC_REWARD, CAMPAIGN_REWARD or CAMPAIGN_REVERSAL")
    transactionDate: str = Field(description="ISO 8601, UTC, whole seconds")
    points: int = Field(description="Positive for an award, negative for a deduction")
    balanceAfter: int = Field(description="The account's balance once it was made")
    rewardId: str
    issuerId: str
    businessUnit: str | None
    channel: str | None
    externalReferenceId: str | None


class HistoryOut(BaseModel):
    transactions: list[TransactionOut] = Field(description="Newest first")
    nextTransactionId: str | None = Field(
        description="The transactionId of the next page; null on the last page"
    )


@router.get("/users/{correlation_id}/transactions/history/v2", response_model=HistoryOut)
async def transaction_history(
    correlation_id: str,
    request: Request,
    client: LoyaltyClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
    limit: Annotated[
        str | None,
        Query(description=f"1 to {history.MAX_LIMIT}; {history.DEFAULT_LIMIT} by default"),
    ] = None,
    transaction_id: Annotated[
        str | None,
        Query(
            alias="transactionId",
            description="The last transactionId of the previous page (its nextTransactionId)",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(alias="from", description="Epoch milliseconds, inclusive; a year before `to`"),
    ] = None,
    until: Annotated[
        str | None, Query(alias="to", description="Epoch milliseconds, inclusive; now")
    ] = None,
) -> Response:
    """The member's points transactions in the session, newest first: `limit` of them from
    after `transactionId`, made between `from` and `to` (the last year by default).

    An unknown or expired session is `400 Could not find the account`; so is another client's.
    A `transactionId` that is not one of the account's transactions is refused (400)."""
    counts = {"paged": 1 if transaction_id else 0}
    note(request, counts=counts)
    try:
        query = history.parse_query(
            limit=limit, transaction_id=transaction_id, since=since, until=until, now=utcnow()
        )
    except Invalid:
        counts["refused_query"] = 1
        raise
    try:
        page = await history.history(
            session,
            client_id=client.id,
            correlation_id=correlation_id,
            query=query,
            idle=timedelta(seconds=runtime.settings.loyalty_session_idle_seconds),
        )
    except Invalid as refusal:
        counts["session_unknown" if refusal.message == ACCOUNT_NOT_FOUND else "refused_query"] = 1
        raise
    out = HistoryOut(
        transactions=[
            TransactionOut.model_validate(history.transaction_json(t)) for t in page.transactions
        ],
        nextTransactionId=page.next_transaction_id,
    )
    return Response(out.model_dump_json(), media_type="application/json")
