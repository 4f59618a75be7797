"""The errors of the vouchers domain: kinds of ``bestow.kit.errors.DomainError``, so that an
escaped one is answered by any surface as its kind (never a 500). The Voucher API gives each its
vendor code in ``bestow.surfaces.vouchers.errors``."""

from __future__ import annotations

from datetime import datetime

from bestow.kit.db import utcnow
from bestow.kit.errors import IdempotencyMismatch, Invalid, InvalidState, RateLimited


class OutOfStock(InvalidState):
    """The product's stock cannot give the vouchers asked for (any, with ``allow_partial``)."""


class KeyReused(IdempotencyMismatch):
    """The idempotency key was used before for another product, quantity or face value."""


class KeyMissing(Invalid):
    """An issuance came without its idempotency key."""


class KeyMalformed(Invalid):
    """The idempotency key is not a UUID."""


class BadQuantity(Invalid):
    """The quantity to issue is not an integer from 1 to ``issuing.MAX_QUANTITY``."""


class BadFaceValue(Invalid):
    """The face value does not suit the product (or is not an integer number of cents)."""


class BadIds(Invalid):
    """The voucher ids asked for are not UUIDs."""


class TooManyIds(Invalid):
    """More voucher ids asked for at once than ``lookup.MAX_IDS``."""


class RepeatedIds(Invalid):
    """A voucher id is asked for twice."""


class PinLocked(RateLimited):
    """Too many wrong PINs: the short link opens again at ``until``."""

    def __init__(self, until: datetime) -> None:
        wait = max(1, int((until - utcnow()).total_seconds()))
        super().__init__(until.isoformat(), headers={"Retry-After": str(wait)})
        self.until = until
