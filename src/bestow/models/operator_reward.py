from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class OperatorReward(Base):
    """An Operator API reward (``rewardType`` ``FreeBets``) of an operator campaign.

    It inherits its operator from the campaign. Bet values are integer hundredths of the currency
    unit (``betValue`` 1.25 is 125), never floats; a ``Fixed`` reward has min equal to max. Its
    status is derived from time except ``cancelled_at``, as a campaign's.
    """

    __tablename__ = "operator_rewards"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("orw"))
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    reward_type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    operator_reference: Mapped[str | None] = mapped_column(String(200))
    products: Mapped[list[str]] = mapped_column(JSONType, default=list)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details_type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    min_bet_value_minor: Mapped[int] = mapped_column(BigInteger)
    max_bet_value_minor: Mapped[int] = mapped_column(BigInteger)
    min_bet_count: Mapped[int] = mapped_column(Integer)
    max_bet_count: Mapped[int] = mapped_column(Integer)
    credit_wallet_type: Mapped[str] = mapped_column(String(40))
    stake_not_returned: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(200))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OperatorEnrollment(Base):
    """A player enrolled in an Operator API reward: the free bets they hold.

    One per (reward, player): enrolling again answers the same enrollment. ``status`` is stored
    for ``New``, ``Active`` (a bet used), ``Completed`` (none left) and ``Cancelled``; ``Expired``
    is derived when read (``New`` or ``Active`` past ``end_at``). ``client_id`` and
    ``campaign_id`` repeat the reward's, so tenancy checks, player look-ups and the cancel
    cascade need no join. The bet value is fixed at enrollment (a ``Ranged`` reward's within its
    range), in hundredths of the currency unit.
    """

    __tablename__ = "operator_enrollments"
    __table_args__ = (
        UniqueConstraint("reward_id", "operator_player_id"),
        Index(None, "client_id", "operator_player_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("oen"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    reward_id: Mapped[str] = mapped_column(ForeignKey("operator_rewards.id", ondelete="CASCADE"))
    operator_player_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    bet_value_minor: Mapped[int] = mapped_column(BigInteger)
    total_bet_count: Mapped[int] = mapped_column(Integer)
    remaining_bet_count: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    batch_id: Mapped[str | None] = mapped_column(String(40))
    """The bulk enrollment that created it, if any."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a bet or a cancellation last changed it; ``None`` until then."""
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))


class OperatorFreeBet(Base):
    """One free bet used by a game server: ``bet_id`` is its idempotency key within the
    enrollment, and the row keeps what the first call answered so a repeat answers the same."""

    __tablename__ = "operator_free_bets"
    __table_args__ = (UniqueConstraint("enrollment_id", "bet_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ofb"))
    enrollment_id: Mapped[str] = mapped_column(
        ForeignKey("operator_enrollments.id", ondelete="CASCADE")
    )
    bet_id: Mapped[str] = mapped_column(String(200))
    product: Mapped[str | None] = mapped_column(String(200))
    bet_value_minor: Mapped[int] = mapped_column(BigInteger)
    remaining_bet_count: Mapped[int] = mapped_column(Integer)
    """The enrollment's remaining bets right after this one."""
    status_after: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OperatorEnrollmentBatch(Base):
    """A bulk enrollment: ``Pending -> Processing -> Completed``, processed by the worker one
    chunk per transaction; ``processed_count`` is where a worker that takes it over resumes."""

    __tablename__ = "operator_enrollment_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("oeb"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    reward_id: Mapped[str] = mapped_column(
        ForeignKey("operator_rewards.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    player_ids: Mapped[list[str]] = mapped_column(JSONType)
    bet_value_minor: Mapped[int] = mapped_column(BigInteger)
    bet_count: Mapped[int] = mapped_column(Integer)
    total_count: Mapped[int] = mapped_column(Integer)
    processed_count: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_count: Mapped[int] = mapped_column(Integer, default=0)
    existing_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
