from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, Int64, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class Product(Base):
    """A voucher product of the catalogue (Voucher API): what vouchers are issued from.

    Value-based products are in cents of ``currency``: a fixed ``face_value``, or an open range
    ``min_face_value``..``max_face_value`` chosen at issuance. Product-based ones give
    ``item_quantity`` items and have no currency. Vouchers expire ``validity_days`` after issue,
    or at ``valid_until``. ``stock`` limits how many can be issued (none: unlimited).
    """

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prd"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_value_based: Mapped[bool] = mapped_column(Boolean)
    is_open_value: Mapped[bool] = mapped_column(Boolean)
    is_status_available: Mapped[bool] = mapped_column(Boolean)
    is_multiple_use: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3), default="")
    face_value: Mapped[int | None] = mapped_column(Int64)
    min_face_value: Mapped[int | None] = mapped_column(Int64)
    max_face_value: Mapped[int | None] = mapped_column(Int64)
    item_quantity: Mapped[int | None] = mapped_column(Integer)
    validity_days: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stock: Mapped[int | None] = mapped_column(Integer)
    terms: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
