from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, Int64, UTCDateTime, utcnow


class Voucher(Base):
    """One digital voucher issued from a product (Voucher API, or a campaign of kind voucher).

    ``id`` is the ``voucher_id`` (a UUID); ``code`` is the ``voucher_code`` the recipient and the
    merchant use, unguessable and unique. What defines the voucher is copied from its product at
    issue: later catalogue edits never change a voucher. ``face_value`` and ``remaining_amount``
    are cents of ``currency`` (value based) or items (product based). ``status`` holds ``active``,
    ``used``, ``voided`` or ``expired``; ``inactive`` (before ``valid_from``) and ``expired``
    (past ``expires_at``) are also derived from time when read (``bestow.vouchers.status``).

    ``order_id`` and ``position`` place the voucher in what issued it: a ``VoucherOrder`` (its
    position in the answer), or a campaign's issuance job (the identifier's index). The id is a
    time-ordered UUID (version 7), so new vouchers append to the primary key's index.
    """

    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        Index(None, "status", "expires_at"),
        Index(None, "usage_month", "client_id", "product_code"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    short_code: Mapped[str] = mapped_column(String(16), unique=True)
    sealed_pin: Mapped[str] = mapped_column(Text)
    """The short link's PIN, sealed under the deployment's key (``vouchers.links.pin_of``)."""
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_id: Mapped[str | None] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    product_code: Mapped[str] = mapped_column(String(40))
    product_name: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(240))
    is_value_based: Mapped[bool] = mapped_column(Boolean)
    is_status_available: Mapped[bool] = mapped_column(Boolean)
    is_multiple_use: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3), default="")
    face_value: Mapped[int] = mapped_column(Int64)
    remaining_amount: Mapped[int] = mapped_column(Int64)
    status: Mapped[str] = mapped_column(String(16), default="active")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(40))
    position: Mapped[int | None] = mapped_column(Integer)
    reward_id: Mapped[str | None] = mapped_column(String(40))
    member_id: Mapped[str | None] = mapped_column(String(40))
    billable: Mapped[bool] = mapped_column(Boolean, default=False)
    usage_month: Mapped[str] = mapped_column(String(7))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the holder first opened the voucher's page with its PIN."""


class VoucherOrder(Base):
    """One ``POST /v3/products/{code}`` that issued vouchers, kept for good under its client's
    ``Idempotency-Key``: a repeat of the request finds it and returns its vouchers, however late.
    The unique key is also what makes concurrent repeats wait for the first and then read it."""

    __tablename__ = "voucher_orders"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(36))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    product_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    face_value: Mapped[int | None] = mapped_column(Int64)
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoucherRedemption(Base):
    """A merchant's use of a voucher: a redemption of ``amount`` (cents or items) or a void.

    A redemption with a ``reference`` is idempotent: the same reference from the same ``actor``
    (a till's client, an operator) on the same voucher returns the first one instead of taking
    the amount again."""

    __tablename__ = "voucher_redemptions"
    __table_args__ = (
        UniqueConstraint("voucher_id", "actor", "reference"),
        Index(None, "voucher_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Int64)
    remaining_after: Mapped[int] = mapped_column(Int64)
    reference: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
