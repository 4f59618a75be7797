"""The transactional outbox: domain events are rows written in the transaction of the change.

Webhook delivery fans unpublished rows out to the endpoints that want them; since the rows commit
with the change, an event is never sent for a change that rolled back, and never lost for one that
committed.

Event types form a registry: each domain declares its own with ``event_type`` at import, naming the
API surface it belongs to (a surface may add its own signature header to deliveries) and whether it
is an extension of the vendor's documented set. ``bestow.domains.load`` imports every domain module,
so a declaration in any of them is known without a list to keep (tests/test_registries.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.kit.timefmt import iso
from bestow.models import OutboxEvent


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    surface: str | None = None
    extension: bool = False


_EVENT_TYPES: dict[str, EventType] = {}


def event_type(
    name: str, description: str, *, surface: str | None = None, extension: bool = False
) -> EventType:
    """Declare an event type, in a domain module (``bestow.domains.load`` imports them all)."""
    declared = _EVENT_TYPES.setdefault(name, EventType(name, description, surface, extension))
    return declared


def event_types() -> list[EventType]:
    return sorted(_EVENT_TYPES.values(), key=lambda e: e.name)


def lookup(name: str) -> EventType | None:
    return _EVENT_TYPES.get(name)


def envelope(event: str, timestamp: str, data: dict[str, Any]) -> dict[str, Any]:
    """The body every webhook carries: ``{"event", "timestamp", "data"}``."""
    return {"event": event, "timestamp": timestamp, "data": data}


def event_row(
    event: EventType,
    *,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any],
    now: datetime,
    client_id: str | None = None,
    merchant_id: str | None = None,
    stamp: str | None = None,
) -> dict[str, Any]:
    """An event as a row (every column but ``published_at``) with the ``envelope`` payload, for
    bulk writes (``bestow.webhooks.fanout.write_events``). ``stamp`` is ``now`` formatted, for
    callers that write many events of one moment."""
    return {
        "id": new_id("evt"),
        "type": event.name,
        "client_id": client_id,
        "merchant_id": merchant_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "payload": envelope(event.name, stamp or iso(now) or "", data),
        "created_at": now,
    }


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
