from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
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
