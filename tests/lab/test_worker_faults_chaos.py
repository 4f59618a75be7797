"""Webhook chaos (issue 18, point 5): a demo or UAT client's ``webhook_chaos`` rule duplicates
(the same event id twice), delays or reorders its deliveries at fan-out, each marked in the
delivery's ``origin``; a real local receiver sees it. A production client's rule and an expired
rule change nothing. Through the real in-process worker (dispatcher and job runner)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.lab import faults, worker_faults
from bestow.models import Job, WebhookDelivery
from bestow.webhooks import dispatcher
from tests.fixtures.receiver import Receiver
from tests.lab.worker_fault_helpers import expire_rule, make_rule, remaining, write_rule
from tests.surfaces.partner.helpers import worker_client
from tests.webhooks.helpers import (
    attempts,
    create_endpoint,
    deliveries,
    make_client,
    record_events,
    verify_standard,
)

CHAOS = faults.WEBHOOK_CHAOS


async def test_a_duplicated_event_arrives_twice_with_the_same_id(
    settings: Settings, runtime: Runtime
) -> None:
    client_id = await make_client(runtime, "uat")
    rule_id = await make_rule(
        runtime, client_id, CHAOS, count=1, params={"mode": "duplicate", "resend_after_seconds": 0}
    )
    async with worker_client(settings), Receiver() as receiver:
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        events = sorted(await record_events(runtime, client_id, 3))  # fan-out order
        got = await receiver.wait_for(4, timeout=30)

    ids = Counter(request.headers["webhook-id"] for request in got)
    assert ids == {events[0]: 2, events[1]: 1, events[2]: 1}
    first, second = [r for r in got if r.headers["webhook-id"] == events[0]]
    assert first.body == second.body
    assert verify_standard(second, secret)["event"] == "reward.issued"
    # Deduplicated by event id, as the receiver recipe does: each event handled once.
    handled: dict[str, object] = {}
    for request in got:
        handled.setdefault(request.headers["webhook-id"], verify_standard(request, secret))
    assert sorted(handled) == events
    assert await remaining(runtime, rule_id) == 0
    rows = {d.event_id: d for d in await deliveries(runtime, endpoint_id)}
    assert rows[events[0]].origin == worker_faults.RESENT
    assert {rows[e].origin for e in events[1:]} == {"schedule"}
    sent = [(a.event_id, a.origin) for a in await attempts(runtime, endpoint_id)]
    assert sorted(o for e, o in sent if e == events[0]) == ["chaos:duplicate", "chaos:resend"]


async def test_a_delayed_event_is_sent_after_its_due_time_and_overtaken(
    settings: Settings, runtime: Runtime
) -> None:
    client_id = await make_client(runtime, "demo")
    await make_rule(
        runtime, client_id, CHAOS, count=1, params={"mode": "delay", "delay_seconds": 1}
    )
    async with worker_client(settings), Receiver() as receiver:
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        events = await record_events(runtime, client_id, 2)
        got = await receiver.wait_for(2, timeout=30)

    # The rule took the first event fanned out; which one that is, is the outbox's order (ids
    # made in one millisecond do not sort in creation order), so it is read from the rows.
    rows = {d.event_id: d for d in await deliveries(runtime, endpoint_id)}
    [delayed] = [e for e in events if rows[e].origin == "chaos:delay"]
    [other] = [e for e in events if e != delayed]
    assert rows[other].origin == "schedule"
    assert [r.headers["webhook-id"] for r in got] == [other, delayed]
    [held] = [a for a in await attempts(runtime, endpoint_id) if a.event_id == delayed]
    assert held.created_at - rows[delayed].created_at >= timedelta(seconds=1)


async def test_a_reordered_event_arrives_after_the_ones_created_after_it(
    settings: Settings, runtime: Runtime
) -> None:
    client_id = await make_client(runtime, "demo")
    await make_rule(
        runtime, client_id, CHAOS, count=1, params={"mode": "reorder", "hold_seconds": 1}
    )
    async with worker_client(settings), Receiver() as receiver:
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        events = await record_events(runtime, client_id, 3)
        got = await receiver.wait_for(3, timeout=30)

    rows = {d.event_id: d.origin for d in await deliveries(runtime, endpoint_id)}
    [held] = [e for e in events if rows[e] == "chaos:reorder"]
    assert sorted(rows.values()) == ["chaos:reorder", "schedule", "schedule"]
    order = [r.headers["webhook-id"] for r in got]
    assert order[-1] == held and set(order[:2]) == set(events) - {held}


async def test_a_production_client_and_an_expired_rule_fan_out_untouched(
    runtime: Runtime,
) -> None:
    """Fanned out here, with no dispatcher running: only the demo client's live rule acts."""
    production = await make_client(runtime, "production")
    expired = await make_client(runtime, "demo")
    live = await make_client(runtime, "demo")
    await write_rule(runtime, production, CHAOS, share=1.0, params={"mode": "delay"})
    old = await make_rule(runtime, expired, CHAOS, share=1.0, params={"mode": "delay"})
    await expire_rule(runtime, old, utcnow() - timedelta(seconds=1))
    await make_rule(runtime, live, CHAOS, share=1.0, params={"mode": ["delay", "duplicate"]})
    endpoints, events = {}, {}
    for client_id, url in (
        (production, "https://hooks.example.com/production"),
        (expired, "http://127.0.0.1:9/expired"),
        (live, "http://127.0.0.1:9/live"),
    ):
        endpoints[client_id], _ = await create_endpoint(runtime, client_id, url)
        events[client_id] = sorted(await record_events(runtime, client_id, 2))
    while await dispatcher.fan_out(runtime.db):
        pass

    for client_id in (production, expired):
        rows = await deliveries(runtime, endpoints[client_id])
        assert [(d.origin, d.next_attempt_at) for d in rows] == [
            ("schedule", d.created_at) for d in rows
        ]
    rows = {d.event_id: d for d in await deliveries(runtime, endpoints[live])}
    delayed, duplicated = (rows[event_id] for event_id in events[live])
    assert delayed.origin == "chaos:delay"
    assert delayed.next_attempt_at - delayed.created_at == timedelta(
        seconds=worker_faults.DEFAULT_DELAY_SECONDS
    )
    assert duplicated.origin == "chaos:duplicate"
    async with runtime.db.session() as session:
        resends = list(
            await session.scalars(select(Job.payload).where(Job.kind == worker_faults.RESEND_TASK))
        )
    assert {"delivery_ids": [duplicated.id], "round": 0, "after": 1.0} in resends
    async with runtime.db.session() as session:
        chaos = await session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id.in_([endpoints[production], endpoints[expired]]),
                WebhookDelivery.origin != "schedule",
            )
        )
    assert chaos is None
