from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class IssuedReward(Base):
    """One reward given to one member, whatever the surface. Within a job, an identifier index and
    a member are each rewarded at most once: the unique constraints make that hold even when a
    chunk is retried by another worker."""

    __tablename__ = "issued_rewards"
    __table_args__ = (
        UniqueConstraint("job_id", "identifier_index"),
        UniqueConstraint("job_id", "member_id"),
        Index(None, "member_id"),
        Index(None, "campaign_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rwd"))
    client_id: Mapped[str | None] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    campaign_id: Mapped[str | None] = mapped_column(String(40))
    variant_id: Mapped[str | None] = mapped_column(String(40))
    template_id: Mapped[str | None] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(40))
    identifier_index: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="active")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
