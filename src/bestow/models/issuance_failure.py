from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base


class IssuanceFailure(Base):
    """One identifier of a job that got no reward, and why. The raw value is kept for the batch
    webhook, which carries it; it is never logged."""

    __tablename__ = "issuance_failures"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("issuance_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    identifier_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier_type: Mapped[str] = mapped_column(String(20))
    identifier_value: Mapped[str] = mapped_column(String(400))
    error: Mapped[str] = mapped_column(String(200))
