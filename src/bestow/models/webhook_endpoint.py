from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class WebhookEndpoint(Base):
    """Where a client receives its events. The signing secret is sealed: the server signs with it.

    During a rotation the previous secret keeps signing until ``previous_secret_expires_at``.
    ``failing_since`` is the first failed attempt since the last success; an endpoint failing for
    five days, or answering 410 Gone, is disabled.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ep"))
    client_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    sealed_secret: Mapped[str] = mapped_column(Text)
    sealed_previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
