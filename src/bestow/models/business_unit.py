from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class BusinessUnit(Base):
    """A loyalty programme's business unit; names match literally, case included."""

    __tablename__ = "business_units"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("bu"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
