"""Issued vouchers, their redemptions and the usage report as the Admin API and the CLI show them:
every column but the PIN (a secret of the recipient's short link), with the true status."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.pagination import CursorPage
from bestow.models import Voucher
from bestow.views.pages import listing
from bestow.vouchers import lookup
from bestow.vouchers.redemption import Redeemed
from bestow.vouchers.status import merchant_status
from bestow.vouchers.usage import UsageLine

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
    return {**view, "status": merchant_status(voucher)}


def voucher_list(found: CursorPage[Voucher]) -> dict[str, Any]:
    """A page of vouchers: ``data`` and the ``next_cursor``."""
    return listing(found, voucher_out)


async def voucher_detail(session: AsyncSession, voucher: Voucher) -> dict[str, Any]:
    redemptions = await lookup.redemptions(session, voucher.id)
    return {**voucher_out(voucher), "redemptions": redemptions}


async def redeemed_out(session: AsyncSession, done: Redeemed) -> dict[str, Any]:
    return {
        "voucher": await voucher_detail(session, done.voucher),
        "redemption": AdminRedemptionOut.model_validate(done.redemption),
    }


def usage_rows(lines: Sequence[UsageLine]) -> list[dict[str, Any]]:
    return [asdict(line) for line in lines]


def usage_csv(lines: Sequence[UsageLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_COLUMNS)
    for line in lines:
        writer.writerow(asdict(line)[column] for column in USAGE_COLUMNS)
    return out.getvalue()
