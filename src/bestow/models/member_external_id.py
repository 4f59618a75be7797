from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base


class MemberExternalId(Base):
    """An identifier another system gives the member (an operator's player id, a partner link)."""

    __tablename__ = "member_external_ids"
    __table_args__ = (UniqueConstraint("merchant_id", "namespace", "value"),)

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    namespace: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(200))
