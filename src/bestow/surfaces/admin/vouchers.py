"""Admin API: issued vouchers (list, look up, redeem and void on a customer's behalf) and the
monthly usage report that bills them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import ListOut
from bestow.surfaces.vouchers.merchant import RedeemIn, VoidIn, required
from bestow.views.vouchers import (
    AdminRedeemedOut,
    AdminVoucherDetailOut,
    AdminVoucherOut,
    UsageLineOut,
    redeemed_out,
    usage_csv,
    usage_rows,
    voucher_detail,
    voucher_list,
)
from bestow.vouchers import lookup, redemption, usage
from bestow.vouchers.status import STATUSES

router = APIRouter(prefix="/admin", tags=["Admin API"])

STATUS = "^(" + "|".join(STATUSES) + ")$"


@router.get("/vouchers", response_model=ListOut[AdminVoucherOut])
async def list_vouchers(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern=STATUS)] = None,
) -> Any:
    """Issued vouchers, by the client that issued them, product and (true) status."""
    found = await lookup.filtered_page(
        session,
        client_id=client_id,
        product_code=product_code,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return voucher_list(found)


@router.get("/vouchers/{code}", response_model=AdminVoucherDetailOut)
async def get_voucher(code: str, _: AdminActor, session: ReadSessionDep) -> dict[str, Any]:
    """One voucher by its code (as typed: any case, hyphens and spaces), with its redemptions."""
    return await voucher_detail(session, await lookup.by_code(session, code))


@router.post("/vouchers/{code}/redeem", response_model=AdminRedeemedOut)
async def redeem_voucher(
    code: str,
    actor: AdminActor,
    session: WriteSessionDep,
    body: RedeemIn | None = None,
) -> dict[str, Any]:
    """Redeem on the holder's behalf (`amount` absent: all that is left); audited. A voucher that
    is not active, or holds too little, is refused with 422."""
    done = await redemption.redeem_as(session, actor, code=code, **required(body).model_dump())
    return await redeemed_out(session, done)


@router.post("/vouchers/{code}/void", response_model=AdminRedeemedOut)
async def void_voucher(
    code: str,
    actor: AdminActor,
    session: WriteSessionDep,
    body: VoidIn | None = None,
) -> dict[str, Any]:
    """Void a voucher (active or not yet started); audited."""
    done = await redemption.void_as(session, actor, code=code, reason=(body or VoidIn()).reason)
    return await redeemed_out(session, done)


@router.get(
    "/voucher_usage",
    response_model=list[UsageLineOut],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def voucher_usage(
    _: AdminActor,
    session: ReadSessionDep,
    month: Annotated[str | None, Query(pattern=usage.MONTH, description="YYYY-MM")] = None,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    include_all: Annotated[
        bool, Query(alias="all", description="Count demo and UAT issuances too")
    ] = False,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Vouchers issued per month, client and product, with their total face value: the billable
    ones (issued in production) unless `all`. CSV with `format=csv` or `Accept: text/csv`."""
    lines = await usage.usage(
        session, month=month, client_id=client_id, billable_only=not include_all
    )
    if format == "csv" or (format is None and "text/csv" in (accept or "")):
        name = f"voucher-usage-{month or 'all'}.csv"
        return Response(
            usage_csv(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return usage_rows(lines)
