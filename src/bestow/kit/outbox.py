"""The transactional outbox: domain events are rows written in the transaction of the change.

A consumer (webhook delivery) reads unpublished rows; since they commit with the change, an event is
never sent for a change that rolled back, and never lost for one that committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.models import OutboxEvent


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


_EVENT_TYPES: dict[str, EventType] = {}


def event_type(name: str, description: str) -> EventType:
    """Declare an event type (surfaces and domains each declare their own)."""
    declared = _EVENT_TYPES.setdefault(name, EventType(name, description))
    return declared


def event_types() -> list[EventType]:
    return sorted(_EVENT_TYPES.values(), key=lambda e: e.name)


def record_event(
    session: AsyncSession,
    event: EventType,
    *,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any],
    client_id: str | None = None,
    merchant_id: str | None = None,
) -> OutboxEvent:
    """Add the event to the caller's transaction."""
    row = OutboxEvent(
        id=new_id("evt"),
        type=event.name,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload,
        client_id=client_id,
        merchant_id=merchant_id,
        created_at=utcnow(),
    )
    session.add(row)
    return row
