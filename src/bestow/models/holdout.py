from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow


class Holdout(Base):
    """A member assigned to a control variant: recorded, rewarded with nothing."""

    __tablename__ = "holdouts"
    __table_args__ = (UniqueConstraint("job_id", "member_id"),)

    job_id: Mapped[str] = mapped_column(
        ForeignKey("issuance_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    identifier_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(String(40))
    variant_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
