"""sandbox lab: client environments, per-client catalogue, request log, fault rules

Every client gets an environment. Existing clients take the one their deployment ran as
(``BESTOW_ENVIRONMENT``: ``production`` or ``uat``; anything else, the former ``sandbox``
included, is ``demo``), so that a production deployment's clients stay production.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:30:00
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _deployment_environment() -> str:
    value = os.environ.get("BESTOW_ENVIRONMENT", "").strip().lower()
    return value if value in ("uat", "production") else "demo"


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("environment", sa.String(16), nullable=False, server_default="demo")
        )
        batch.add_column(sa.Column("organization", sa.String(100), nullable=True))
        batch.create_index("ix_clients_organization", ["organization"])
    environment = _deployment_environment()
    if environment != "demo":
        op.execute(sa.text("UPDATE clients SET environment = :e").bindparams(e=environment))

    op.create_table(
        "client_catalogue",
        sa.Column(
            "client_id",
            sa.String(40),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(24), primary_key=True),
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "request_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("headers_present", JSON, nullable=False),
        sa.Column("header_values", JSON, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("replayed", sa.Boolean, nullable=False),
        sa.Column("rate_limited", sa.Boolean, nullable=False),
        sa.Column("fault", sa.String(32), nullable=True),
        sa.Column("body", JSON, nullable=False),
    )
    op.create_index("ix_request_log_client_id_seq", "request_log", ["client_id", "seq"])
    op.create_index("ix_request_log_created_at", "request_log", ["created_at"])
    op.create_index("ix_request_log_request_id", "request_log", ["request_id"])
    op.create_table(
        "fault_rules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "client_id",
            sa.String(40),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("share", sa.Float, nullable=True),
        sa.Column("remaining", sa.Integer, nullable=True),
        sa.Column("route", sa.String(200), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_fault_rules_client_id", "fault_rules", ["client_id"])


def downgrade() -> None:
    op.drop_table("fault_rules")
    op.drop_table("request_log")
    op.drop_table("client_catalogue")
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_organization")
        batch.drop_column("organization")
        batch.drop_column("environment")
