"""The voucher event types and what they carry: the voucher's identity and state, never a link or
a PIN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bestow.kit.db import WriteSession
from bestow.kit.outbox import EventType, event_row, event_type
from bestow.models import Voucher, VoucherRedemption
from bestow.vouchers.status import status_of
from bestow.webhooks import fanout

VOUCHER_ISSUED = event_type(
    "voucher.issued", "A voucher was issued by the Voucher API", surface="vouchers"
)
VOUCHER_REDEEMED = event_type(
    "voucher.redeemed", "A merchant redeemed all or part of a voucher", surface="vouchers"
)
VOUCHER_VOIDED = event_type("voucher.voided", "A voucher was voided", surface="vouchers")


def event_view(voucher: Voucher, now: datetime) -> dict[str, Any]:
    """What the voucher events carry: the voucher's identity and state, no link or PIN."""
    return {
        "voucher_id": voucher.id,
        "voucher_code": voucher.code,
        "name": voucher.name,
        "status": status_of(voucher, now),
        "product_code": voucher.product_code,
        "currency": voucher.currency,
        "face_value": voucher.face_value,
        "remaining_amount": voucher.remaining_amount,
        "expiration": voucher.expires_at.isoformat(),
    }


def redemption_view(redemption: VoucherRedemption) -> dict[str, Any]:
    """A redemption (or void) as its event and the merchant's view show it."""
    return {
        "id": redemption.id,
        "kind": redemption.kind,
        "amount": redemption.amount,
        "remaining_after": redemption.remaining_after,
        "reference": redemption.reference,
        "location": redemption.location,
    }


async def write_redemption_event(
    session: WriteSession,
    event: EventType,
    voucher: Voucher,
    now: datetime,
    redemption: VoucherRedemption,
) -> None:
    """The redemption's event, to the client that issued the voucher; none for the vouchers of a
    product without status (``is_status_available=false``): their use is not reported."""
    if not voucher.is_status_available:
        return
    data = {
        "voucher": event_view(voucher, now) | {"status": voucher.status},
        "redemption": redemption_view(redemption),
    }
    await fanout.write_events(
        session,
        [
            event_row(
                event,
                subject_type="voucher",
                subject_id=voucher.id,
                client_id=voucher.client_id,
                now=now,
                data=data,
            )
        ],
    )
