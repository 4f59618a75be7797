from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class Client(Base):
    """An integrating partner: one tenant, whatever surface it calls."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cli"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    rate_limit_tier: Mapped[str] = mapped_column(String(40), default="default")
    operator_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    adhoc_reward_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """The Loyalty API's ad hoc reward feature."""
    environment: Mapped[str] = mapped_column(String(16), default="demo", server_default="demo")
    """``demo``, ``uat`` or ``production`` (``bestow.lab.environments``); never changes."""
    organization: Mapped[str | None] = mapped_column(String(100), index=True)
    """The partner organisation the client belongs to: its demo, UAT and production clients
    share it (the go-live gate looks for the certified one)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
