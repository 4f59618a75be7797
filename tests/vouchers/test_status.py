"""Voucher status is defined once: ``merchant_status`` (Python) and ``status_is`` (SQL) agree on
every voucher, on both databases, whatever its stored status and dates."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from bestow.deps import Runtime
from bestow.kit.db import bulk_insert, utcnow
from bestow.models import Voucher
from bestow.vouchers import issuing
from bestow.vouchers.status import STATUSES, merchant_status, status_is
from tests.vouchers.helpers import create, fixed

STORED = ("active", "used", "voided", "expired")
HOUR = timedelta(hours=1)


async def test_python_and_sql_give_every_voucher_the_same_status(runtime: Runtime) -> None:
    product = await create(runtime, **fixed())
    now = utcnow()
    cases = list(
        itertools.product(STORED, (now - HOUR, now + HOUR), (None, now - HOUR, now + 2 * HOUR))
    )
    rows = issuing.voucher_rows(
        product,
        sealer=runtime.sealer,
        count=len(cases),
        value=product.face_value or 0,
        now=now,
        source="api",
        billable=False,
        client_id=None,
    )
    for row, (stored, expires_at, valid_from) in zip(rows, cases, strict=True):
        row.update(status=stored, expires_at=expires_at, valid_from=valid_from)
    async with runtime.db.write_session() as session:
        await bulk_insert(session, Voucher.__table__, rows)
        await session.commit()

    ids = [row["id"] for row in rows]
    async with runtime.db.session() as session:
        vouchers = (await session.scalars(select(Voucher).where(Voucher.id.in_(ids)))).all()
        by_python = {v.id: merchant_status(v, now) for v in vouchers}
        by_sql = {}
        for status in STATUSES:
            selected = await session.scalars(
                select(Voucher.id).where(Voucher.id.in_(ids), status_is(status, now))
            )
            for voucher_id in selected:
                assert voucher_id not in by_sql, f"{voucher_id} is both {by_sql[voucher_id]}"
                by_sql[voucher_id] = status

    assert len(vouchers) == len(cases)
    assert by_sql == by_python
    assert set(by_python.values()) == set(STATUSES)
