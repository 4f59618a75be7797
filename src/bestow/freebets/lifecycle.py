"""Statuses of rewards and enrollments, derived from time, and the cancel cascade.

Enrollment lifecycle (``docs/operator-api.md``, "Enrollments")::

    New --first bet--> Active --last bet--> Completed
    New | Active --reward/campaign/enrollment cancelled--> Cancelled
    New | Active --endTimeUtc passed--> Expired (derived when read)

A reward's status is derived from time as a campaign's (``bestow.campaigns.service.status``),
except ``Cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, select, update

from bestow.campaigns.service import Status
from bestow.kit.db import WriteSession, utcnow
from bestow.models import OperatorEnrollment, OperatorReward

NEW = "New"
ACTIVE = "Active"
COMPLETED = "Completed"
EXPIRED = "Expired"
CANCELLED = "Cancelled"
STATUSES = (NEW, ACTIVE, COMPLETED, EXPIRED, CANCELLED)
OPEN = (NEW, ACTIVE)
"""Enrollment statuses with free bets still to use."""
CANCELLABLE = (Status.SCHEDULED, Status.ACTIVE)
"""Campaign and reward statuses that can be cancelled, and take new rewards or players."""


def reward_status(reward: OperatorReward, now: datetime | None = None) -> Status:
    now = now or utcnow()
    if reward.cancelled_at is not None:
        return Status.CANCELLED
    if now < reward.start_at:
        return Status.SCHEDULED
    if now >= reward.end_at:
        return Status.ENDED
    return Status.ACTIVE


def enrollment_status(enrollment: OperatorEnrollment, now: datetime) -> str:
    """The stored status, except that an open enrollment past its end is ``Expired``."""
    if enrollment.status in OPEN and now >= enrollment.end_at:
        return EXPIRED
    return enrollment.status


async def cancel_open_enrollments(
    session: WriteSession,
    which: ColumnElement[bool],
    *,
    now: datetime,
    cancelled_by: str,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Cancel the open enrollments (``New`` or ``Active``, not yet expired) that ``which``
    selects; the players lose their unused free bets. Returns how many. Their rows are locked
    first (in id order) and only then stamped from ``clock`` (never before ``now``), so that a
    bet that took an enrollment's lock first is stamped before its cancellation."""
    is_open = (
        which,
        OperatorEnrollment.status.in_(OPEN),
        OperatorEnrollment.end_at > now,
    )
    await session.execute(
        select(OperatorEnrollment.id)
        .where(*is_open)
        .order_by(OperatorEnrollment.id)
        .with_for_update()
    )
    stamp = max(now, clock())
    result = await session.execute(
        update(OperatorEnrollment)
        .where(*is_open)
        .values(status=CANCELLED, cancelled_at=stamp, cancelled_by=cancelled_by, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
