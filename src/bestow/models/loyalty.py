from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, Int64, UTCDateTime, utcnow


class LoyaltyReward(Base):
    """An ad hoc reward a loyalty programme (a merchant) offers: ``reward_id`` is what the
    Loyalty API's ``rewardId`` names; an award is at most ``max_per_transaction`` points either
    way."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (UniqueConstraint("merchant_id", "reward_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    reward_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    max_per_transaction: Mapped[int] = mapped_column(Int64)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltySession(Base):
    """A member's session opened by a client (``POST /client/users/:identifier/sessions``): the
    client's ``correlation_id`` names it in later calls until it has been idle too long."""

    __tablename__ = "loyalty_sessions"
    __table_args__ = (
        UniqueConstraint("client_id", "correlation_id"),
        Index(None, "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40))
    correlation_id: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    identifier_type: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(40))
    external_agent_session_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PointsTransaction(Base):
    """One movement of points for a member: an ad hoc award or deduction, or a campaign's award.

    Its two ``PointsEntry`` rows (the member's account and the issuing side) sum to zero. The
    same ``external_reference_id`` from the same client for the same member and reward is the
    same transaction: a reference names the client's own record, so two clients of one programme
    may use the same one. ``sequence`` is the member's account's own count, taken under the
    balance row's lock: the order in which the movements happened."""

    __tablename__ = "points_transactions"
    __table_args__ = (
        UniqueConstraint(
            "client_id",
            "member_id",
            "reward_id",
            "external_reference_id",
            name="uq_points_transactions_client_reference",
        ),
        Index(None, "member_id", "sequence"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    reward_id: Mapped[str] = mapped_column(String(100))
    issuer_id: Mapped[str] = mapped_column(String(100))
    business_unit: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(Int64)
    balance_after: Mapped[int] = mapped_column(Int64)
    sequence: Mapped[int] = mapped_column(Int64)
    external_reference_id: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsEntry(Base):
    """One side of a ``PointsTransaction``: ``account`` is ``member:<id>`` or the issuing side,
    ``issuer:<merchant id>:<issuer id>``. Entries are only ever added."""

    __tablename__ = "points_entries"
    __table_args__ = (Index(None, "account"), Index(None, "transaction_id"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(
        ForeignKey("points_transactions.id", ondelete="CASCADE")
    )
    account: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(Int64)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsBalance(Base):
    """A member's points balance: the sum of its account's entries, kept up to date in the
    transaction that adds them (the row lock serialises concurrent awards to one member).
    ``sequence`` counts the movements of the account, under that lock."""

    __tablename__ = "points_balances"

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(Int64, default=0)
    sequence: Mapped[int] = mapped_column(Int64, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
