"""Deliveries and attempts written straight into the database, for the tests of the lists that
read them (``GET /admin/webhook_deliveries``, ``bestow webhooks deliveries``): states, origins,
creation times and attempt outcomes a dispatcher would take minutes to reach.

Each event is published (no dispatcher fans it out again) and a pending delivery is due in a
month (no dispatcher of a later test claims it). Ids are made a millisecond apart, so the order
of the specs is the order of their ids and "newest first" has one answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.models import OutboxEvent, WebhookAttempt, WebhookDelivery


@dataclass(frozen=True)
class Try:
    """One recorded attempt."""

    success: bool
    status_code: int | None = None
    error: str | None = None
    latency_ms: int = 12


OK = Try(True, 200)
HTTP_500 = Try(False, 500, "HTTP 500", 40)
TIMEOUT = Try(False, None, "timed out after 15 s", 15000)


@dataclass(frozen=True)
class Spec:
    endpoint_id: str
    client_id: str
    event_type: str = "reward.issued"
    state: str = "succeeded"
    origin: str = "schedule"
    created_at: datetime | None = None
    tries: tuple[Try, ...] = field(default_factory=tuple)


async def _later_id(prefix: str) -> str:
    await asyncio.sleep(0.002)
    return new_id(prefix)


async def seed(runtime: Runtime, *specs: Spec) -> list[str]:
    """The deliveries (with their events and attempts), in one transaction: their ids, in the
    order of ``specs`` (oldest first)."""
    ids = []
    async with runtime.db.write_session() as session:
        for spec in specs:
            now = utcnow()
            event = OutboxEvent(
                id=await _later_id("evt"),
                type=spec.event_type,
                client_id=spec.client_id,
                subject_type="test",
                subject_id=new_id("sub"),
                payload={"event": spec.event_type},
                created_at=now,
                published_at=now,
            )
            last = spec.tries[-1] if spec.tries else None
            delivery = WebhookDelivery(
                id=await _later_id("dlv"),
                endpoint_id=spec.endpoint_id,
                event_id=event.id,
                client_id=spec.client_id,
                event_type=spec.event_type,
                state=spec.state,
                origin=spec.origin,
                attempt_count=len(spec.tries),
                run_attempts=len(spec.tries),
                next_attempt_at=now + timedelta(days=30) if spec.state == "pending" else now,
                last_status_code=last.status_code if last else None,
                last_error=last.error if last else None,
                created_at=spec.created_at or now,
                updated_at=now,
                delivered_at=now if spec.state == "succeeded" else None,
            )
            session.add(event)
            await session.flush()
            session.add(delivery)
            await session.flush()
            for number, attempt in enumerate(spec.tries, start=1):
                session.add(
                    WebhookAttempt(
                        id=await _later_id("att"),
                        delivery_id=delivery.id,
                        endpoint_id=spec.endpoint_id,
                        event_id=event.id,
                        attempt=number,
                        origin=spec.origin,
                        success=attempt.success,
                        status_code=attempt.status_code,
                        error=attempt.error,
                        latency_ms=attempt.latency_ms,
                        response_excerpt="",
                        created_at=now + timedelta(seconds=number),
                    )
                )
            ids.append(delivery.id)
        await session.commit()
    return ids
