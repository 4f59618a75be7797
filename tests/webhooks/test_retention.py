"""Webhook history past retention is purged; pending deliveries and recent history are kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import OutboxEvent, WebhookAttempt, WebhookDelivery
from bestow.webhooks import fanout, retention
from tests.webhooks.helpers import create_endpoint, event_row, make_client, settle


async def test_settled_history_past_retention_goes_and_the_rest_stays(
    runtime: Runtime, settings: Settings
) -> None:
    subscribed = await make_client(runtime)
    silent = await make_client(runtime)
    endpoint_id, _ = await create_endpoint(runtime, subscribed, "http://127.0.0.1:9/hooks")
    events = {
        name: event_row(subscribed) for name in ("old ok", "old failed", "old pending", "new")
    }
    events |= {name: event_row(silent) for name in ("old unsent", "new unsent")}
    async with runtime.db.write_session() as session:
        await fanout.write_events(session, list(events.values()))
        await session.commit()

    old = utcnow() - timedelta(days=settings.webhook_retention_days, hours=1)
    recent = utcnow() - timedelta(days=1)
    outcomes = {
        "old ok": ("succeeded", old),
        "old failed": ("failed", old),
        "old pending": ("pending", old),
        "new": ("succeeded", recent),
    }
    async with runtime.db.write_session() as session:
        for name, (state, when) in outcomes.items():
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.event_id == events[name]["id"])
                .values(state=state, updated_at=when)
            )
        for name in ("old ok", "old failed", "old pending", "old unsent"):
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == events[name]["id"])
                .values(published_at=old)
            )
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.event_id == events["old ok"]["id"])
        )
        assert delivery is not None
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                endpoint_id=endpoint_id,
                event_id=events["old ok"]["id"],
                attempt=1,
                origin="schedule",
                success=True,
                status_code=200,
                latency_ms=3,
                response_excerpt="ok",
                created_at=old,
            )
        )
        await session.commit()

    purged = await retention.purge(runtime.db, settings)

    ids = {name: row["id"] for name, row in events.items()}
    async with runtime.db.session() as session:
        kept_deliveries = set(
            await session.scalars(
                select(WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == endpoint_id)
            )
        )
        kept_events = set(
            await session.scalars(select(OutboxEvent.id).where(OutboxEvent.id.in_(ids.values())))
        )
        attempts = list(
            await session.scalars(
                select(WebhookAttempt.id).where(WebhookAttempt.endpoint_id == endpoint_id)
            )
        )
    assert kept_deliveries == {ids["old pending"], ids["new"]}
    assert kept_events == {ids["old pending"], ids["new"], ids["new unsent"]}
    assert attempts == []  # went with their delivery
    assert purged["deliveries"] >= 2 and purged["events"] >= 3
    await settle(runtime, endpoint_id)  # no later dispatcher tries the unreachable endpoint
