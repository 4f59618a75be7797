"""sealed voucher pins

Voucher PINs were the one secret stored in plain text. They are sealed like every secret the
server reads back (``bestow.kit.security.Sealer``, under ``BESTOW_SECRET_KEY`` or the generated
``var/secret.key``): existing PINs are sealed in place, in chunks, so recipients keep the PINs they
were given. The key is read only when there are PINs to seal or open.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:30:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from bestow.config import Settings
from bestow.kit.security import Sealer, load_secret_key

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000


def _rewrite(source: str, target: str, change: Callable[[Sealer, str], str]) -> None:
    """Set ``target`` from ``source`` on every voucher, ``CHUNK`` rows at a time in id order."""
    bind = op.get_bind()
    vouchers = sa.table("vouchers", sa.column("id"), sa.column(source), sa.column(target))
    sealer: Sealer | None = None
    after = ""
    while True:
        rows = bind.execute(
            sa.select(vouchers.c.id, vouchers.c[source])
            .where(vouchers.c.id > after)
            .order_by(vouchers.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        sealer = sealer or Sealer(load_secret_key(Settings()))
        bind.execute(
            vouchers.update()
            .where(vouchers.c.id == sa.bindparam("voucher_id"))
            .values({target: sa.bindparam("value")}),
            [{"voucher_id": row[0], "value": change(sealer, row[1])} for row in rows],
        )
        after = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("vouchers") as batch:
        batch.add_column(sa.Column("sealed_pin", sa.Text(), nullable=True))
    _rewrite("pin", "sealed_pin", Sealer.seal)
    with op.batch_alter_table("vouchers") as batch:
        batch.alter_column("sealed_pin", existing_type=sa.Text(), nullable=False)
        batch.drop_column("pin")


def downgrade() -> None:
    with op.batch_alter_table("vouchers") as batch:
        batch.add_column(sa.Column("pin", sa.String(length=8), nullable=True))
    _rewrite("sealed_pin", "pin", Sealer.unseal)
    with op.batch_alter_table("vouchers") as batch:
        batch.alter_column("pin", existing_type=sa.String(length=8), nullable=False)
        batch.drop_column("sealed_pin")
