from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class OutboxEvent(Base):
    """A domain event, written in the transaction of the change it describes."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index(None, "published_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    type: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str | None] = mapped_column(String(40), index=True)
    merchant_id: Mapped[str | None] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
