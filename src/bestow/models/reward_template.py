from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class RewardTemplate(Base):
    """What a campaign variant issues. ``kind`` selects the issuing behaviour (discount, voucher,
    points, free bets); ``config`` holds what that kind needs beyond the vendor's fields."""

    __tablename__ = "reward_templates"
    __table_args__ = (Index(None, "merchant_id", "state"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rtp"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    subtype: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    fine_print: Mapped[str] = mapped_column(Text, default="")
    discount: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    redemption_venue: Mapped[str | None] = mapped_column(String(40))
    images: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
