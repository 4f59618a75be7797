"""What a voucher reports: its status, defined once, in Python and as a SQL condition side by side.

The stored ``status`` is ``active`` until a voucher is used, voided or swept ``expired``; the true
status also depends on the time: a stored ``active`` voucher is ``expired`` past its expiry (the
sweep may not have run yet) and ``inactive`` before it starts. ``merchant_status`` computes it for
one voucher, ``status_is`` selects the vouchers in a status; a change to one changes the other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from bestow.kit.db import utcnow
from bestow.models import Voucher

STATUSES = ("active", "inactive", "expired", "voided", "used")
_FINAL = ("voided", "used", "expired")


def status_of(voucher: Voucher, now: datetime) -> str:
    """The status a voucher reports now.

    A product with ``is_status_available=false`` does not tell Bestow how its vouchers are used,
    so such a voucher reports only what is known without the merchant: ``inactive`` before it
    starts, ``active`` until it expires, then ``expired``, whatever was redeemed (see
    ``docs/vouchers.md``)."""
    return _status(voucher, now, use_known=voucher.is_status_available)


def merchant_status(voucher: Voucher, now: datetime | None = None) -> str:
    """The status from the merchant's side, where every product's use is known."""
    return _status(voucher, now or utcnow(), use_known=True)


def _status(voucher: Voucher, now: datetime, *, use_known: bool) -> str:
    if use_known and voucher.status in _FINAL:
        return voucher.status
    if now >= voucher.expires_at:
        return "expired"
    if voucher.valid_from is not None and now < voucher.valid_from:
        return "inactive"
    return "active"


def status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """``merchant_status`` as a condition: the vouchers whose true status is ``status`` at ``now``
    (a stored ``active`` voucher may be ``expired`` or ``inactive`` by the time)."""
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


def remaining_of(voucher: Voucher) -> int:
    """The balance a voucher reports: its face value when its use is not known."""
    return voucher.remaining_amount if voucher.is_status_available else voucher.face_value
