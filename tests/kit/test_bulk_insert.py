"""``bulk_insert`` writes in the caller's transaction, even as its first statement (a COPY on
PostgreSQL goes straight to the driver, which opens transactions lazily)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from bestow.deps import Runtime
from bestow.kit.db import bulk_insert, utcnow
from bestow.models import OutboxEvent


def rows(subject_id: str, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": f"evt_{uuid.uuid4().hex}"[:40],
            "type": "tests.bulk",
            "client_id": None,
            "merchant_id": None,
            "subject_type": "thing",
            "subject_id": subject_id,
            "payload": {"n": n},
            "created_at": now,
            "published_at": now,
        }
        for n in range(count)
    ]


async def kept(runtime: Runtime, subject_id: str) -> list[int]:
    async with runtime.db.session() as session:
        found = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject_id == subject_id)
        )
        return sorted(e.payload["n"] for e in found)


async def test_a_bulk_insert_opening_a_transaction_is_rolled_back_with_it(
    runtime: Runtime,
) -> None:
    subject_id = f"bulk_{uuid.uuid4().hex[:12]}"
    async with runtime.db.write_session() as session:
        await bulk_insert(session, OutboxEvent.__table__, rows(subject_id, 3))
        await session.rollback()
    assert await kept(runtime, subject_id) == []


async def test_a_bulk_insert_is_kept_when_its_transaction_commits(runtime: Runtime) -> None:
    subject_id = f"bulk_{uuid.uuid4().hex[:12]}"
    async with runtime.db.write_session() as session:
        await bulk_insert(session, OutboxEvent.__table__, rows(subject_id, 3))
        await session.commit()
    assert await kept(runtime, subject_id) == [0, 1, 2]
