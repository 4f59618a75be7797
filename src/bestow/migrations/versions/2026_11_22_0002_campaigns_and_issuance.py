"""campaigns and issuance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:20:53.363817
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bestow.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=True),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("fine_print", sa.Text(), nullable=False),
        sa.Column("terms_url", sa.String(length=2000), nullable=True),
        sa.Column("operator_reference", sa.String(length=200), nullable=True),
        sa.Column("start_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemable_from", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemable_to", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_campaigns_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_campaigns_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_client_id_merchant_id"),
            ["client_id", "merchant_id"],
            unique=False,
        )

    op.create_table(
        "reward_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subtype", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fine_print", sa.Text(), nullable=False),
        sa.Column(
            "discount",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("redemption_venue", sa.String(length=40), nullable=True),
        sa.Column(
            "images",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_reward_templates_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_templates")),
    )
    with op.batch_alter_table("reward_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reward_templates_merchant_id_state"),
            ["merchant_id", "state"],
            unique=False,
        )

    op.create_table(
        "campaign_variants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reward_template_id", sa.String(length=40), nullable=True),
        sa.Column("is_control", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_variants_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reward_template_id"],
            ["reward_templates.id"],
            name=op.f("fk_campaign_variants_reward_template_id_reward_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_variants")),
        sa.UniqueConstraint(
            "campaign_id", "name", name=op.f("uq_campaign_variants_campaign_id_name")
        ),
    )
    op.create_table(
        "issued_rewards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=True),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=True),
        sa.Column("variant_id", sa.String(length=40), nullable=True),
        sa.Column("template_id", sa.String(length=40), nullable=True),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("identifier_index", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("valid_from", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_to", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_issued_rewards_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_issued_rewards_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_rewards")),
        sa.UniqueConstraint(
            "job_id", "identifier_index", name=op.f("uq_issued_rewards_job_id_identifier_index")
        ),
        sa.UniqueConstraint("job_id", "member_id", name=op.f("uq_issued_rewards_job_id_member_id")),
    )
    with op.batch_alter_table("issued_rewards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issued_rewards_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issued_rewards_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "issuance_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("variant_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "identifiers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("processed_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("revoked_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_requested_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_issuance_jobs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_issuance_jobs_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_issuance_jobs_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["campaign_variants.id"],
            name=op.f("fk_issuance_jobs_variant_id_campaign_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_jobs")),
    )
    with op.batch_alter_table("issuance_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issuance_jobs_client_id_merchant_id"),
            ["client_id", "merchant_id"],
            unique=False,
        )

    op.create_table(
        "holdouts",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("identifier_index", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("variant_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", bestow.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["issuance_jobs.id"],
            name=op.f("fk_holdouts_job_id_issuance_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_holdouts_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "identifier_index", name=op.f("pk_holdouts")),
        sa.UniqueConstraint("job_id", "member_id", name=op.f("uq_holdouts_job_id_member_id")),
    )
    op.create_table(
        "issuance_failures",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("identifier_index", sa.Integer(), nullable=False),
        sa.Column("identifier_type", sa.String(length=20), nullable=False),
        sa.Column("identifier_value", sa.String(length=400), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["issuance_jobs.id"],
            name=op.f("fk_issuance_failures_job_id_issuance_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "identifier_index", name=op.f("pk_issuance_failures")),
    )


def downgrade() -> None:
    op.drop_table("issuance_failures")
    op.drop_table("holdouts")
    with op.batch_alter_table("issuance_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issuance_jobs_client_id_merchant_id"))

    op.drop_table("issuance_jobs")
    with op.batch_alter_table("issued_rewards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_rewards_member_id"))
        batch_op.drop_index(batch_op.f("ix_issued_rewards_campaign_id"))

    op.drop_table("issued_rewards")
    op.drop_table("campaign_variants")
    with op.batch_alter_table("reward_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_templates_merchant_id_state"))

    op.drop_table("reward_templates")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_client_id_merchant_id"))

    op.drop_table("campaigns")
