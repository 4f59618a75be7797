"""The sandbox lab's tables: catalogue assignments, the request log, fault rules, and the
certification's runs and attestations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bestow.kit.db import Base, JSONType, UTCDateTime, utcnow
from bestow.kit.ids import new_id


class CatalogueItem(Base):
    """An item of a client's own catalogue. A client with none of a kind sees the whole
    catalogue of that kind (its merchants', or the deployment's products)."""

    __tablename__ = "client_catalogue"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    """``product`` (a voucher product code), ``template`` or ``loyalty_reward`` (ids)."""
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestLogEntry(Base):
    """One request of a client on a client surface: what it asked and how it was answered,
    never a credential or a personal value (``bestow.lab.requestlog``)."""

    __tablename__ = "request_log"
    __table_args__ = (
        Index(None, "client_id", "seq"),
        Index(None, "created_at"),
        Index(None, "request_id"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    request_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(40))
    environment: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    surface: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    headers_present: Mapped[list[str]] = mapped_column(JSONType, default=list)
    header_values: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    replayed: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_limited: Mapped[bool] = mapped_column(Boolean, default=False)
    fault: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """The body's fingerprint: ``sha256``, ``bytes`` and counts (identifiers per type)."""
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    """A hash of the method, path, query and body: a request sent again unchanged has the same."""
    object_id: Mapped[str | None] = mapped_column(String(64))
    """The Bestow object the request is about or created (an issuance job, a campaign)."""
    retry_after: Mapped[float | None] = mapped_column(Float)
    """The seconds the answer's ``Retry-After`` asked the client to wait (a 429, a 503)."""


class FaultRule(Base):
    """A fault injected into a demo or UAT client's requests (``bestow.lab.faults``)."""

    __tablename__ = "fault_rules"
    __table_args__ = (Index(None, "client_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("flt"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    share: Mapped[float | None] = mapped_column(Float)
    """The share of matching requests it applies to (0 to 1); or ``remaining`` counts."""
    remaining: Mapped[int | None] = mapped_column(Integer)
    route: Mapped[str | None] = mapped_column(String(200))
    """Only requests whose route template (or method and template) match; all if unset."""
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificationRun(Base):
    """A judged window of a client's traffic for one surface: opened, optionally with the
    faults its checklist needs, then closed with its report (``bestow.lab.certification``)."""

    __tablename__ = "certification_runs"
    __table_args__ = (Index(None, "client_id", "surface", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("crt"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    surface: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    """``open`` while the integrator's suite runs, then ``closed``."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fault_rule_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """The report as judged when the run closed."""
    opened_by: Mapped[str] = mapped_column(String(120))


class Attestation(Base):
    """An admin's word that an *attested* checklist item holds for a client."""

    __tablename__ = "certification_attestations"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    surface: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500))
    attested_by: Mapped[str] = mapped_column(String(120))
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
