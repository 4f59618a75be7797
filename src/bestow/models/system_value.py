from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow


class SystemValue(Base):
    """Deployment-wide values (sealed where secret), such as the demo credentials."""

    __tablename__ = "system_values"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
