"""Free bets used by a game server: one bet of an enrollment per ``betId``.

A bet is used once per ``betId``: a repeat answers what the first call answered (the row keeps
what it answered: the remaining count and the status after it). The enrollment's row is locked
while a bet is used, so concurrent bets are counted one after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.freebets import enrollments, events
from bestow.freebets.errors import BetIdReused, NoBetsLeft
from bestow.freebets.events import RewardView
from bestow.freebets.lifecycle import ACTIVE, COMPLETED, OPEN, enrollment_status
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.timefmt import iso
from bestow.models import Campaign, OperatorEnrollment, OperatorFreeBet, OperatorReward
from bestow.webhooks import fanout

PRODUCT = "product {product} is not one of the reward's products"


@dataclass(frozen=True)
class Bet:
    bet: OperatorFreeBet
    enrollment: OperatorEnrollment
    replayed: bool = False
    """The ``betId`` was used before: this is the first call's bet, and nothing was used."""


async def place_bet(
    session: WriteSession,
    *,
    client_id: str,
    enrollment_id: str,
    bet_id: str,
    product: str,
    operator_id: int | None,
    clock: Callable[[], datetime] = utcnow,
) -> Bet:
    """Use one free bet of an enrollment, once per ``bet_id``. The enrollment row is locked, so
    concurrent bets are counted one after the other and a repeat waits for the first and then
    answers it. The time is read from ``clock`` once the row is locked: bets (and a cancel) are
    stamped in the order they took the lock."""
    enrollment = await enrollments.get(
        session, client_id=client_id, enrollment_id=enrollment_id, lock=True
    )
    now = clock()
    earlier = await session.scalar(
        select(OperatorFreeBet).where(
            OperatorFreeBet.enrollment_id == enrollment_id, OperatorFreeBet.bet_id == bet_id
        )
    )
    if earlier is not None:
        if earlier.product != product:
            raise BetIdReused(
                f"betId {bet_id} was already used on product {earlier.product}, not {product}"
            )
        return Bet(earlier, enrollment, replayed=True)
    current = enrollment_status(enrollment, now)
    if current not in OPEN:
        raise NoBetsLeft(f"Enrollment {enrollment_id} is {current}: it has no free bets to use")
    if now < enrollment.start_at:
        raise NoBetsLeft(
            f"Enrollment {enrollment_id} is not open yet: its free bets can be used from "
            f"{iso(enrollment.start_at)}"
        )
    reward = await session.get(OperatorReward, enrollment.reward_id)
    assert reward is not None
    if product not in reward.products:
        raise Invalid(PRODUCT.format(product=product), field="product")
    enrollment.remaining_bet_count -= 1
    enrollment.updated_at = now
    if enrollment.remaining_bet_count == 0:
        enrollment.status = COMPLETED
        enrollment.completed_at = now
    else:
        enrollment.status = ACTIVE
    bet = OperatorFreeBet(
        enrollment_id=enrollment.id,
        bet_id=bet_id,
        product=product,
        bet_value_minor=enrollment.bet_value_minor,
        remaining_bet_count=enrollment.remaining_bet_count,
        status_after=enrollment.status,
        placed_at=now,
    )
    session.add(bet)
    if enrollment.status == COMPLETED:
        reference = await session.scalar(
            select(Campaign.operator_reference).where(Campaign.id == reward.campaign_id)
        )
        view = RewardView(reward, reference, operator_id)
        await fanout.write_events(session, [events.completed(client_id, enrollment, view, now)])
    await session.flush()
    return Bet(bet, enrollment)


async def bets_of(
    session: AsyncSession, *, client_id: str, enrollment_id: str
) -> tuple[OperatorEnrollment, list[OperatorFreeBet]]:
    """The operator's enrollment and the bets used from it, oldest first: in the order they
    took the enrollment's lock, which each bet's ``remaining_bet_count`` (one fewer each time)
    records."""
    enrollment = await enrollments.get(session, client_id=client_id, enrollment_id=enrollment_id)
    rows = await session.scalars(
        select(OperatorFreeBet)
        .where(OperatorFreeBet.enrollment_id == enrollment_id)
        .order_by(OperatorFreeBet.remaining_bet_count.desc(), OperatorFreeBet.placed_at)
    )
    return enrollment, list(rows)
