from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow
from bestow.kit.ids import new_guid, new_id


class Member(Base):
    """An end user of a merchant's programme. Email is stored lower-cased, phone in E.164."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("merchant_id", "email"),
        UniqueConstraint("merchant_id", "phone"),
        UniqueConstraint("merchant_id", "loyalty_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mbr"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_guid)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    loyalty_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
