from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class Credential(Base):
    """One secret of a client. Bearer secrets are kept as a SHA-256 digest; secrets the server
    must read back to verify a hash over a request (operator shared keys) are kept sealed."""

    __tablename__ = "credentials"
    __table_args__ = (Index(None, "client_id", "kind"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("crd"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(40), default="")
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    sealed_secret: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
