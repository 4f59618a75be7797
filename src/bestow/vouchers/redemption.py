"""Using a voucher: the merchant's side (redeem, void) through the Voucher API, and the same
operations made by an operator on a holder's behalf (Admin API, CLI), in the audit trail.

Redemption locks the voucher row (PostgreSQL ``FOR UPDATE``; SQLite serialises writers), so
concurrent redemptions of one voucher queue and never take more than its balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid, InvalidState
from bestow.kit.ids import new_id
from bestow.models import Voucher, VoucherRedemption
from bestow.vouchers.events import VOUCHER_REDEEMED, VOUCHER_VOIDED, write_redemption_event
from bestow.vouchers.lookup import by_code
from bestow.vouchers.status import merchant_status

MAX_REFERENCE = 100


@dataclass(frozen=True)
class Redeemed:
    voucher: Voucher
    redemption: VoucherRedemption
    replayed: bool


async def redeem(
    session: WriteSession,
    *,
    code: str,
    amount: int | None,
    actor: str,
    client_id: str | None = None,
    environment: str | None = None,
    reference: str | None = None,
    location: str | None = None,
) -> Redeemed:
    """Take ``amount`` (cents, or items; all that is left when ``None``) from a voucher.

    A single-use voucher is redeemed whole. A multiple-use one, or a product-based one holding
    several items, may be redeemed in parts until nothing is left, when it becomes ``used``. A
    ``reference`` this actor used before on this voucher returns that redemption instead of
    taking more. ``environment``: the calling client's; a voucher of another environment is not
    found (``lookup.by_code``). The caller commits.
    """
    for name, text in (("reference", reference), ("location", location)):
        if text is not None and not 1 <= len(text) <= MAX_REFERENCE:
            raise Invalid(f"{name} is 1 to {MAX_REFERENCE} characters", field=name)
    voucher = await by_code(session, code, lock=True, environment=environment)
    if reference is not None:
        # A till's own transaction ids: another till's reference is another redemption.
        earlier = await session.scalar(
            select(VoucherRedemption).where(
                VoucherRedemption.voucher_id == voucher.id,
                VoucherRedemption.actor == actor[:80],
                VoucherRedemption.reference == reference,
            )
        )
        if earlier is not None:
            if earlier.kind != "redeem" or (amount is not None and earlier.amount != amount):
                raise InvalidState("this reference was used for another operation on the voucher")
            return Redeemed(voucher, earlier, replayed=True)
    now = utcnow()
    _must_be_active(voucher, now)
    left = voucher.remaining_amount
    take = left if amount is None else amount
    if take <= 0:
        raise Invalid("amount must be a positive integer", field="amount")
    partial_allowed = voucher.is_multiple_use or not voucher.is_value_based
    if take != left and not partial_allowed:
        raise Invalid(
            f"a single-use voucher is redeemed whole: amount must be {left}", field="amount"
        )
    if take > left:
        raise InvalidState(f"the voucher has {left} left, less than {take}")
    voucher.remaining_amount = left - take
    if voucher.remaining_amount == 0:
        voucher.status = "used"
    voucher.updated_at = now
    redemption = _redemption(voucher, "redeem", take, actor, client_id, reference, location, now)
    session.add(redemption)
    await write_redemption_event(session, VOUCHER_REDEEMED, voucher, now, redemption)
    return Redeemed(voucher, redemption, replayed=False)


async def void(
    session: WriteSession,
    *,
    code: str,
    actor: str,
    client_id: str | None = None,
    environment: str | None = None,
    reason: str = "",
) -> Redeemed:
    """Take a voucher out of circulation: ``voided``, whatever is left stays unusable.
    ``environment``: as for ``redeem``."""
    voucher = await by_code(session, code, lock=True, environment=environment)
    now = utcnow()
    current = merchant_status(voucher, now)
    if current not in ("active", "inactive"):
        raise InvalidState(f"a voucher that is {current} cannot be voided")
    voucher.status = "voided"
    voucher.updated_at = now
    redemption = _redemption(voucher, "void", 0, actor, client_id, None, None, now, reason)
    session.add(redemption)
    await write_redemption_event(session, VOUCHER_VOIDED, voucher, now, redemption)
    return Redeemed(voucher, redemption, replayed=False)


async def redeem_as(
    session: WriteSession,
    actor: Actor,
    *,
    code: str,
    amount: int | None,
    reference: str | None = None,
    location: str | None = None,
) -> Redeemed:
    """A redemption made by an operator (Admin API, CLI), in the audit trail (a repeat of a
    ``reference`` is recorded once)."""
    done = await redeem(
        session, code=code, amount=amount, actor=actor.name, reference=reference, location=location
    )
    if not done.replayed:
        _audit(session, actor, "voucher.redeem", done)
    return done


async def void_as(session: WriteSession, actor: Actor, *, code: str, reason: str) -> Redeemed:
    """A void made by an operator (Admin API, CLI), in the audit trail."""
    done = await void(session, code=code, actor=actor.name, reason=reason)
    _audit(session, actor, "voucher.void", done)
    return done


def _audit(session: WriteSession, actor: Actor, action: str, done: Redeemed) -> None:
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


def _must_be_active(voucher: Voucher, now: datetime) -> None:
    current = merchant_status(voucher, now)
    if current != "active":
        raise InvalidState(f"the voucher is {current}")


def _redemption(
    voucher: Voucher,
    kind: str,
    amount: int,
    actor: str,
    client_id: str | None,
    reference: str | None,
    location: str | None,
    now: datetime,
    note: str = "",
) -> VoucherRedemption:
    return VoucherRedemption(
        id=new_id("vrd"),
        voucher_id=voucher.id,
        client_id=client_id,
        actor=actor[:80],
        kind=kind,
        amount=amount,
        remaining_after=voucher.remaining_amount,
        reference=reference,
        location=location,
        note=note[:500],
        created_at=now,
    )
