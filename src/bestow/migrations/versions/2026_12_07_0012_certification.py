"""certification: what the request log needs to judge a checklist, runs and attestations

The request log gains three columns the certification report reads: ``fingerprint`` (a hash of
the method, path, query and body: the same request sent twice has the same one), ``object_id``
(the Bestow object a request is about or created, such as an issuance job) and ``retry_after``
(the seconds a 429 or 503 told the client to wait). A voucher remembers when its holder first
opened its page (``opened_at``). Certification runs hold a judged window and its report;
attestations hold an admin's word for the items a person must confirm.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(32), nullable=True))
        batch.add_column(sa.Column("object_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("retry_after", sa.Float, nullable=True))
    with op.batch_alter_table("vouchers") as batch:
        batch.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "certification_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "client_id",
            sa.String(40),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fault_rule_ids", JSON, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("opened_by", sa.String(120), nullable=False),
    )
    op.create_index(
        "ix_certification_runs_client_id_surface_started_at",
        "certification_runs",
        ["client_id", "surface", "started_at"],
    )
    op.create_table(
        "certification_attestations",
        sa.Column(
            "client_id",
            sa.String(40),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("item_id", sa.String(80), primary_key=True),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("attested_by", sa.String(120), nullable=False),
        sa.Column("attested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("certification_attestations")
    op.drop_table("certification_runs")
    with op.batch_alter_table("vouchers") as batch:
        batch.drop_column("opened_at")
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("retry_after")
        batch.drop_column("object_id")
        batch.drop_column("fingerprint")
