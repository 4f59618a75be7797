"""The recipient's short link (``/s/{short code}``) and the PIN that opens it.

PIN attempts are counted in the caller's transaction, and the caller commits them whatever the
answer: a wrong PIN or a locked link is an answer, not an error to roll back (the short-link page
returns those pages rather than raising). The route's session commits before the answer is sent
(``bestow.deps``), so every guess whose answer an attacker reads has been counted; a request that
dies before committing told its sender nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import WriteSession, sealer_of, utcnow
from bestow.kit.security import Sealer, equal
from bestow.models import Voucher
from bestow.vouchers.errors import PinLocked

PIN_ATTEMPTS = 10
PIN_LOCK = timedelta(minutes=15)


def pin_of(voucher: Voucher, sealer: Sealer) -> str:
    """The PIN of the voucher's short link (kept sealed, like every secret read back)."""
    return sealer.unseal(voucher.sealed_pin)


async def by_short_code(session: AsyncSession, short_code: str) -> Voucher | None:
    return await session.scalar(select(Voucher).where(Voucher.short_code == short_code.lower()))


async def open_short_link(session: WriteSession, voucher: Voucher, pin: str) -> bool:
    """Whether ``pin`` opens the voucher's short link, counting the attempt first.

    Each attempt is reserved by one conditional update before the PIN is compared, so that no
    burst of concurrent guesses gets more than ``PIN_ATTEMPTS`` tries (the update holds the row
    till the caller commits; SQLite serialises writers); the last failure locks the link for
    ``PIN_LOCK`` (``PinLocked``), after which the count starts again. A right PIN clears the
    count and, the first time, records when the holder opened the voucher (``opened_at``: the
    certification's "open sample vouchers"). The caller commits, on ``PinLocked`` and a wrong
    PIN too (see the module)."""
    now = utcnow()
    lapsed = and_(Voucher.pin_locked_until.is_not(None), Voucher.pin_locked_until <= now)
    reserved = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            or_(
                lapsed,
                and_(Voucher.pin_locked_until.is_(None), Voucher.pin_failures < PIN_ATTEMPTS),
            ),
        )
        .values(
            pin_failures=case((lapsed, 1), else_=Voucher.pin_failures + 1),
            pin_locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if reserved.rowcount != 1:  # type: ignore[attr-defined]
        until = await session.scalar(
            select(Voucher.pin_locked_until).where(Voucher.id == voucher.id)
        )
        raise PinLocked(until or now + PIN_LOCK)
    if equal(pin, pin_of(voucher, sealer_of(session))):
        await session.execute(
            update(Voucher)
            .where(Voucher.id == voucher.id)
            .values(pin_failures=0, opened_at=func.coalesce(Voucher.opened_at, now))
        )
        return True
    locked = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            Voucher.pin_failures >= PIN_ATTEMPTS,
            Voucher.pin_locked_until.is_(None),
        )
        .values(pin_locked_until=now + PIN_LOCK)
    )
    if locked.rowcount == 1:  # type: ignore[attr-defined]
        raise PinLocked(now + PIN_LOCK)
    return False
