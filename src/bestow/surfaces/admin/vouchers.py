"""Admin API: issued vouchers (list, look up, redeem and void on a customer's behalf) and the
monthly usage report that bills them."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.deps import SessionDep, WriteSessionDep
from bestow.kit.actor import Actor
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import Voucher
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import ListOut
from bestow.surfaces.vouchers.merchant import RedeemIn, VoidIn, required
from bestow.vouchers import service

router = APIRouter(prefix="/admin", tags=["Admin API"])

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
STATUS = "^(" + "|".join(service.STATUSES) + ")$"
USAGE_COLUMNS = ("month", "client_id", "product_code", "currency", "count", "face_value_total")


class AdminRedemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    amount: int
    remaining_after: int
    client_id: str | None
    actor: str
    reference: str | None
    location: str | None
    note: str
    created_at: datetime


class AdminVoucherOut(BaseModel):
    """Every column but the PIN (a secret of the recipient's short link); ``status`` is the true
    one, derived from the time where the expiry sweep has not run yet."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    code: str
    client_id: str | None
    product_code: str
    product_name: str
    name: str
    status: str
    is_value_based: bool
    is_status_available: bool
    is_multiple_use: bool
    currency: str
    face_value: int
    remaining_amount: int
    valid_from: datetime | None
    expires_at: datetime
    source: str
    order_id: str | None
    reward_id: str | None
    member_id: str | None
    billable: bool
    usage_month: str
    issued_at: datetime
    updated_at: datetime


class AdminVoucherDetailOut(AdminVoucherOut):
    redemptions: list[AdminRedemptionOut]


class AdminRedeemedOut(BaseModel):
    voucher: AdminVoucherDetailOut
    redemption: AdminRedemptionOut


class UsageLineOut(BaseModel):
    month: str = Field(description="YYYY-MM of issue (UTC)")
    client_id: str | None
    product_code: str
    currency: str
    count: int
    face_value_total: int = Field(description="Cents, or items for product-based products")


def voucher_out(voucher: Voucher) -> dict[str, Any]:
    view = {name: getattr(voucher, name) for name in AdminVoucherOut.model_fields}
    return {**view, "status": service.merchant_status(voucher)}


async def voucher_detail(session: AsyncSession, voucher: Voucher) -> dict[str, Any]:
    redemptions = await service.redemptions(session, voucher.id)
    return {**voucher_out(voucher), "redemptions": redemptions}


def _status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """The true status (``service.merchant_status``) as a condition: a stored ``active`` voucher
    may be ``expired`` or ``inactive`` by the time."""
    live = and_(Voucher.status == "active", Voucher.expires_at > now)
    started = or_(Voucher.valid_from.is_(None), Voucher.valid_from <= now)
    match status:
        case "active":
            return and_(live, started)
        case "inactive":
            return and_(live, ~started)
        case "expired":
            return or_(
                Voucher.status == "expired",
                and_(Voucher.status == "active", Voucher.expires_at <= now),
            )
        case _:
            return Voucher.status == status


def query(
    *, client_id: str | None = None, product_code: str | None = None, status: str | None = None
) -> Select[Voucher]:
    stmt = select(Voucher)
    if client_id is not None:
        stmt = stmt.where(Voucher.client_id == client_id)
    if product_code is not None:
        stmt = stmt.where(Voucher.product_code == product_code)
    if status is not None:
        stmt = stmt.where(_status_is(status, utcnow()))
    return stmt


def _after(cursor: str) -> str:
    """The voucher id a cursor carries. Voucher ids are the vendor's UUIDs, which the Admin
    API's shared cursors (prefixed ids) refuse; they page in id order all the same."""
    try:
        last = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return str(uuid.UUID(last))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("cursor is not one this API returned", field="cursor") from exc


async def page(
    session: AsyncSession, stmt: Select[Voucher], *, cursor: str | None, limit: int
) -> CursorPage[Voucher]:
    """A page of vouchers in id order (random UUIDs: stable, not chronological)."""
    if cursor:
        stmt = stmt.where(Voucher.id > _after(cursor))
    return await cursor_paginate(session, stmt, Voucher.id, cursor=None, limit=limit)


async def redeem_as(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    amount: int | None,
    reference: str | None = None,
    location: str | None = None,
) -> service.Redeemed:
    """A redemption made by an operator (Admin API, CLI), in the audit trail."""
    done = await service.redeem(
        session, code=code, amount=amount, actor=actor.name, reference=reference, location=location
    )
    if not done.replayed:
        _audit(session, actor, "voucher.redeem", done)
    return done


async def void_as(
    session: AsyncSession, actor: Actor, *, code: str, reason: str
) -> service.Redeemed:
    """A void made by an operator (Admin API, CLI), in the audit trail."""
    done = await service.void(session, code=code, actor=actor.name, reason=reason)
    _audit(session, actor, "voucher.void", done)
    return done


def _audit(session: AsyncSession, actor: Actor, action: str, done: service.Redeemed) -> None:
    redemption = done.redemption
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="voucher",
        target_id=done.voucher.id,
        changes={
            "redemption_id": redemption.id,
            "amount": redemption.amount,
            "remaining_after": redemption.remaining_after,
            "status": done.voucher.status,
            "reference": redemption.reference,
            "note": redemption.note,
        },
    )


async def redeemed_out(session: AsyncSession, done: service.Redeemed) -> dict[str, Any]:
    return {
        "voucher": await voucher_detail(session, done.voucher),
        "redemption": AdminRedemptionOut.model_validate(done.redemption),
    }


def usage_csv(lines: Sequence[service.UsageLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_COLUMNS)
    for line in lines:
        writer.writerow(asdict(line)[column] for column in USAGE_COLUMNS)
    return out.getvalue()


@router.get("/vouchers", response_model=ListOut[AdminVoucherOut])
async def list_vouchers(
    _: AdminActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern=STATUS)] = None,
) -> Any:
    """Issued vouchers, by the client that issued them, product and (true) status."""
    stmt = query(client_id=client_id, product_code=product_code, status=status)
    found = await page(session, stmt, cursor=cursor, limit=limit)
    return {"data": [voucher_out(v) for v in found.items], "next_cursor": found.next_cursor}


@router.get("/vouchers/{code}", response_model=AdminVoucherDetailOut)
async def get_voucher(code: str, _: AdminActor, session: SessionDep) -> dict[str, Any]:
    """One voucher by its code (as typed: any case, hyphens and spaces), with its redemptions."""
    return await voucher_detail(session, await service.by_code(session, code))


@router.post("/vouchers/{code}/redeem", response_model=AdminRedeemedOut)
async def redeem_voucher(
    code: str,
    actor: AdminActor,
    session: WriteSessionDep,
    body: RedeemIn | None = None,
) -> dict[str, Any]:
    """Redeem on the holder's behalf (`amount` absent: all that is left); audited. A voucher that
    is not active, or holds too little, is refused with 422."""
    done = await redeem_as(session, actor, code=code, **required(body).model_dump())
    view = await redeemed_out(session, done)
    await session.commit()
    return view


@router.post("/vouchers/{code}/void", response_model=AdminRedeemedOut)
async def void_voucher(
    code: str,
    actor: AdminActor,
    session: WriteSessionDep,
    body: VoidIn | None = None,
) -> dict[str, Any]:
    """Void a voucher (active or not yet started); audited."""
    done = await void_as(session, actor, code=code, reason=(body or VoidIn()).reason)
    view = await redeemed_out(session, done)
    await session.commit()
    return view


@router.get(
    "/voucher_usage",
    response_model=list[UsageLineOut],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def voucher_usage(
    _: AdminActor,
    session: SessionDep,
    month: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM")] = None,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    include_all: Annotated[
        bool, Query(alias="all", description="Count sandbox and UAT issuances too")
    ] = False,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Vouchers issued per month, client and product, with their total face value: the billable
    ones (issued in production) unless `all`. CSV with `format=csv` or `Accept: text/csv`."""
    lines = await service.usage(
        session, month=month, client_id=client_id, billable_only=not include_all
    )
    if format == "csv" or (format is None and "text/csv" in (accept or "")):
        name = f"voucher-usage-{month or 'all'}.csv"
        return Response(
            usage_csv(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return [asdict(line) for line in lines]
