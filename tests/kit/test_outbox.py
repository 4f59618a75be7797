"""The transactional outbox: an event exists exactly when the change it describes committed."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from bestow.deps import Runtime
from bestow.kit import outbox
from bestow.models import OutboxEvent

THING_CHANGED = outbox.event_type("tests.thing_changed", "A thing changed (tests only).")


async def events_about(runtime: Runtime, subject_id: str) -> list[OutboxEvent]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject_id == subject_id)
        )
        return list(rows)


async def test_an_event_recorded_in_a_rolled_back_transaction_is_not_kept(
    runtime: Runtime,
) -> None:
    subject_id = f"thing_{uuid.uuid4().hex[:12]}"
    async with runtime.db.write_session() as session:
        outbox.record_event(
            session, THING_CHANGED, subject_type="thing", subject_id=subject_id, payload={"n": 1}
        )
        await session.flush()
        await session.rollback()
    assert await events_about(runtime, subject_id) == []


async def test_an_event_recorded_in_a_committed_transaction_is_kept_once_with_its_payload(
    runtime: Runtime,
) -> None:
    subject_id = f"thing_{uuid.uuid4().hex[:12]}"
    async with runtime.db.write_session() as session:
        recorded = outbox.record_event(
            session,
            THING_CHANGED,
            subject_type="thing",
            subject_id=subject_id,
            payload={"n": 1, "name": "Ünïcode", "nested": {"points": 150}},
            client_id="cli_test",
        )
        await session.commit()
    [event] = await events_about(runtime, subject_id)
    assert event.id == recorded.id
    assert event.type == "tests.thing_changed"
    assert event.payload == {"n": 1, "name": "Ünïcode", "nested": {"points": 150}}
    assert (event.subject_type, event.client_id, event.published_at) == ("thing", "cli_test", None)


def test_declaring_an_event_type_twice_keeps_the_first_declaration() -> None:
    again = outbox.event_type("tests.thing_changed", "Another description.")
    assert again is THING_CHANGED
    assert THING_CHANGED in outbox.event_types()
