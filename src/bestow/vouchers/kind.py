"""Template kind ``voucher``: a campaign whose rewards each come with a voucher of a catalogue
product, issued by the batch issuance engine.

The template's ``config`` names the product (``product_code``, an active one) and, for an
open-value product and only then, the vouchers' ``face_value`` in cents. The product is read
again for every chunk of a job: vouchers are issued as the catalogue stands then (an archived
product issues nothing, its identifiers fail), and each chunk takes its vouchers from the stock
in its own transaction, so identifiers beyond the stock fail with ``Out of stock``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import bulk_insert, sealer_of
from bestow.kit.errors import Invalid, NotFound
from bestow.models import Voucher
from bestow.rewards.kinds import Batch, RewardKind, Served, TemplateFields, register
from bestow.vouchers.events import event_view
from bestow.vouchers.issuing import check_face_value, take_stock, voucher_rows
from bestow.vouchers.products import get_product, product_type

CONFIG_KEYS = ("product_code", "face_value")
OUT_OF_STOCK = "Out of stock"
UNAVAILABLE = "Voucher product unavailable"


def _validate(fields: TemplateFields) -> TemplateFields:
    if fields.discount is not None:
        raise Invalid("a voucher template has no discount", field="discount")
    config = fields.config
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise Invalid(
            f"config holds product_code and face_value, not {', '.join(unknown)}", field="config"
        )
    code = config.get("product_code")
    if not isinstance(code, str) or not code:
        raise Invalid("config.product_code must name a voucher product", field="config")
    face_value = config.get("face_value")
    if face_value is not None and (not isinstance(face_value, int) or isinstance(face_value, bool)):
        raise Invalid("config.face_value must be an integer (cents)", field="config")
    normal = {"product_code": code} if face_value is None else {**config}
    return TemplateFields(type="voucher", subtype=None, discount=None, config=normal)


async def _check(session: AsyncSession, fields: TemplateFields) -> TemplateFields:
    """The product exists and is active, and the face value suits it; the subtype becomes the
    product's type (fixed, open_value, product_based or gift_card)."""
    code = fields.config["product_code"]
    try:
        product = await get_product(session, code, active_only=True)
    except NotFound:
        raise Invalid(f"config.product_code: no active product {code}", field="config") from None
    try:
        check_face_value(product, fields.config.get("face_value"))
    except Invalid as exc:
        raise Invalid(f"config.{exc.message}", field="config") from None
    return replace(fields, subtype=product_type(product))


async def _issue(session: AsyncSession, batch: Batch) -> Served:
    """One voucher per reward of the chunk, as far as the stock goes, written with the rewards.
    Every voucher of a chunk shares everything its event shows but its id and code: the event's
    voucher object is built once and copied."""
    try:
        product = await get_product(session, batch.config["product_code"], active_only=True)
        value = check_face_value(product, batch.config.get("face_value"))
    except (NotFound, Invalid):
        return Served(0, UNAVAILABLE)
    count = await take_stock(session, product, len(batch.links), partial=True)
    if count == 0:
        return Served(0, OUT_OF_STOCK)
    rows = voucher_rows(
        product,
        sealer=sealer_of(session),
        count=count,
        value=value,
        now=batch.now,
        source="campaign",
        billable=batch.billable,
        client_id=batch.client_id,
        valid_from=batch.valid_from,
        order_id=batch.job_id,
        positions=batch.indexes[:count],
        links=batch.links[:count],
    )
    await bulk_insert(session, Voucher.__table__, rows)
    shared = event_view(Voucher(**rows[0]), batch.now)
    data = [
        {"voucher": {**shared, "voucher_id": row["id"], "voucher_code": row["code"]}}
        for row in rows
    ]
    return Served(count, OUT_OF_STOCK, data)


async def _revoke(session: AsyncSession, job_id: str, now: datetime) -> None:
    """Void the job's vouchers still in circulation (stored ``active``); used, expired or
    already voided ones keep their status. A job's vouchers carry its id as their order."""
    await session.execute(
        update(Voucher)
        .where(Voucher.order_id == job_id, Voucher.status == "active", Voucher.expires_at > now)
        .values(status="voided", updated_at=now)
        .execution_options(synchronize_session=False)
    )


VOUCHER = register(
    RewardKind(
        "voucher",
        "A voucher of a catalogue product for each recipient (config: product_code, face_value)",
        _validate,
        check=_check,
        issue=_issue,
        revoke=_revoke,
    )
)
