"""The usage report that bills issued vouchers: how many, and their total face value, per month
of issue, client and product.

Production only (``bestow.lab.environments.is_billable``): a voucher is marked billable at issue
when its client is a production one, and the report also leaves out every voucher of a demo or
UAT client whatever its mark, so that in a deployment holding all three environments a test
client's vouchers never reach an invoice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.lab.environments import ENVIRONMENTS, is_billable
from bestow.models import Client, Voucher

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
"""A month of the report: ``YYYY-MM``."""


@dataclass(frozen=True)
class UsageLine:
    month: str
    client_id: str | None
    product_code: str
    currency: str
    count: int
    face_value_total: int


async def usage(
    session: AsyncSession,
    *,
    month: str | None = None,
    client_id: str | None = None,
    billable_only: bool = True,
) -> list[UsageLine]:
    """Vouchers issued per month, client and product: count and total face value (cents, or
    items for product-based products). Billable ones only by default: those issued by
    production clients."""
    stmt = select(
        Voucher.usage_month,
        Voucher.client_id,
        Voucher.product_code,
        Voucher.currency,
        func.count(),
        func.coalesce(func.sum(Voucher.face_value), 0),
    ).group_by(Voucher.usage_month, Voucher.client_id, Voucher.product_code, Voucher.currency)
    if billable_only:
        unbilled = [e for e in ENVIRONMENTS if not is_billable(e)]
        stmt = stmt.where(
            Voucher.billable.is_(True),
            Voucher.client_id.is_(None)
            | Voucher.client_id.not_in(select(Client.id).where(Client.environment.in_(unbilled))),
        )
    if month is not None:
        stmt = stmt.where(Voucher.usage_month == month)
    if client_id is not None:
        stmt = stmt.where(Voucher.client_id == client_id)
    rows = await session.execute(
        stmt.order_by(Voucher.usage_month, Voucher.client_id, Voucher.product_code)
    )
    return [UsageLine(m, c, p, cur, int(n), int(total)) for m, c, p, cur, n, total in rows]
