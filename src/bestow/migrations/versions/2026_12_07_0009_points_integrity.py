"""points integrity: references per client, a per-account sequence, 64-bit points and money

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00

- ``points_transactions``: an external reference is unique per (client, member, reward id), not
  per (member, reward id): two clients of one programme may use the same reference. Existing
  campaign credits without a client get their job's client.
- ``points_transactions.sequence`` and ``points_balances.sequence``: the account's movements in
  the order they took the balance row's lock; existing transactions are numbered in the order of
  ``(created_at, id)`` that the history used, and each balance holds its account's last number.
- Points and money columns become 64-bit on PostgreSQL (``BIGINT``); SQLite's ``INTEGER`` already
  is.

On SQLite, changing the unique key rebuilds ``points_transactions``: with foreign keys on, dropping
the old table would delete its entries (``ON DELETE CASCADE``), so they are kept aside and put back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = "uq_points_transactions_member_id_reward_id_external_reference_id"
NEW_KEY = "uq_points_transactions_client_reference"
OLD_INDEX = "ix_points_transactions_member_id_created_at_id"
NEW_INDEX = "ix_points_transactions_member_id_sequence"

WIDENED = {
    "loyalty_rewards": ("max_per_transaction",),
    "points_balances": ("balance",),
    "points_transactions": ("amount", "balance_after"),
    "points_entries": ("amount",),
    "products": ("face_value", "min_face_value", "max_face_value"),
    "vouchers": ("face_value", "remaining_amount"),
    "voucher_orders": ("face_value",),
    "voucher_redemptions": ("amount", "remaining_after"),
}
"""Points and money, by table: ``BIGINT`` on PostgreSQL."""

NUMBERED = """
UPDATE points_transactions SET sequence = numbered.n
FROM (
    SELECT id, row_number() OVER (PARTITION BY member_id ORDER BY created_at, id) AS n
    FROM points_transactions
) AS numbered
WHERE points_transactions.id = numbered.id
"""
CLIENT_FROM_JOB = """
UPDATE points_transactions SET client_id = (
    SELECT issuance_jobs.client_id FROM issuance_jobs
    WHERE issuance_jobs.id = points_transactions.job_id
)
WHERE client_id IS NULL AND job_id IS NOT NULL
"""
LAST_NUMBER = """
UPDATE points_balances SET sequence = COALESCE(
    (SELECT MAX(t.sequence) FROM points_transactions AS t
     WHERE t.member_id = points_balances.member_id),
    0
)
"""


def _widen(sqlite: bool, to: sa.types.TypeEngine[int], existing: sa.types.TypeEngine[int]) -> None:
    if sqlite:
        return
    for table, columns in WIDENED.items():
        for column in columns:
            op.alter_column(table, column, type_=to, existing_type=existing)


def _rebuild_transactions(sqlite: bool, change: object) -> None:
    """Run ``change(batch_op)`` on ``points_transactions``, its entries kept safe on SQLite."""
    if sqlite:
        op.execute("CREATE TEMPORARY TABLE points_entries_kept AS SELECT * FROM points_entries")
    with op.batch_alter_table("points_transactions", schema=None) as batch_op:
        change(batch_op)  # type: ignore[operator]
    if sqlite:
        op.execute(
            "INSERT INTO points_entries SELECT * FROM points_entries_kept "
            "WHERE id NOT IN (SELECT id FROM points_entries)"
        )
        op.execute("DROP TABLE points_entries_kept")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _widen(sqlite, sa.BigInteger(), sa.Integer())
    with op.batch_alter_table("points_balances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sequence",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=False,
                server_default="0",
            )
        )
    op.add_column(
        "points_transactions",
        sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    )
    op.execute(CLIENT_FROM_JOB)
    op.execute(NUMBERED)
    op.execute(LAST_NUMBER)
    with op.batch_alter_table("points_balances", schema=None) as batch_op:
        batch_op.alter_column("sequence", server_default=None)

    def change(batch_op: object) -> None:
        batch_op.alter_column(  # type: ignore[attr-defined]
            "sequence",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        )
        batch_op.drop_constraint(op.f(OLD_KEY), type_="unique")  # type: ignore[attr-defined]
        batch_op.create_unique_constraint(  # type: ignore[attr-defined]
            NEW_KEY, ["client_id", "member_id", "reward_id", "external_reference_id"]
        )
        batch_op.drop_index(OLD_INDEX)  # type: ignore[attr-defined]
        batch_op.create_index(  # type: ignore[attr-defined]
            NEW_INDEX, ["member_id", "sequence"], unique=False
        )

    _rebuild_transactions(sqlite, change)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"

    def change(batch_op: object) -> None:
        batch_op.drop_index(NEW_INDEX)  # type: ignore[attr-defined]
        batch_op.create_index(  # type: ignore[attr-defined]
            OLD_INDEX, ["member_id", "created_at", "id"], unique=False
        )
        batch_op.drop_constraint(NEW_KEY, type_="unique")  # type: ignore[attr-defined]
        batch_op.create_unique_constraint(  # type: ignore[attr-defined]
            op.f(OLD_KEY), ["member_id", "reward_id", "external_reference_id"]
        )
        batch_op.drop_column("sequence")  # type: ignore[attr-defined]

    _rebuild_transactions(sqlite, change)
    with op.batch_alter_table("points_balances", schema=None) as batch_op:
        batch_op.drop_column("sequence")
    _widen(sqlite, sa.Integer(), sa.BigInteger())
