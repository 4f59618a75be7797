"""Retries: a failed attempt is tried again on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h), up to the endpoint's ``max_attempts``; an endpoint failing for five days is disabled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks.dispatcher import Claimed, Outcome, Target, next_state
from tests.fixtures.receiver import Receiver
from tests.webhooks.helpers import (
    attempts,
    audit_entries,
    create_endpoint,
    deliveries,
    dispatching,
    endpoint_row,
    make_client,
    make_due_now,
    poll,
    record_events,
    settle,
    verify_standard,
)

FIRST_RETRY = timedelta(seconds=5)


def close_to(value: datetime | None, expected: datetime, tolerance: float = 0.002) -> bool:
    return value is not None and abs((value - expected).total_seconds()) <= tolerance


async def attempts_made(runtime: Runtime, endpoint_id: str, count: int) -> list[WebhookAttempt]:
    """The endpoint's attempt rows once there are ``count`` of them."""

    async def check() -> list[WebhookAttempt] | None:
        rows = await attempts(runtime, endpoint_id)
        return rows if len(rows) >= count else None

    return await poll(check, f"{count} attempt(s) of {endpoint_id}")


async def delivery_in(runtime: Runtime, endpoint_id: str, state: str) -> WebhookDelivery:
    """The endpoint's only delivery, once it is in ``state``."""

    async def check() -> WebhookDelivery | None:
        rows = await deliveries(runtime, endpoint_id)
        return rows[0] if len(rows) == 1 and rows[0].state == state else None

    return await poll(check, f"{state} delivery of {endpoint_id}")


async def test_a_receiver_that_was_down_gets_the_event_on_the_next_retry(
    settings: Settings, runtime: Runtime
) -> None:
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()  # the port is known, nobody listens on it
    client_id = await make_client(runtime)
    endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
    try:
        async with dispatching(runtime, settings):
            [event_id] = await record_events(runtime, client_id)

            [first] = await attempts_made(runtime, endpoint_id, 1)
            assert (first.attempt, first.success, first.status_code) == (1, False, None)
            assert first.error is not None and first.error.startswith("connection failed"), (
                first.error
            )
            assert first.event_id == event_id
            [delivery] = await deliveries(runtime, endpoint_id)
            assert (delivery.state, delivery.attempt_count, delivery.run_attempts) == (
                "pending",
                1,
                1,
            )
            assert delivery.locked_by is None
            assert delivery.last_error == first.error
            assert close_to(delivery.next_attempt_at, first.created_at + FIRST_RETRY)
            endpoint = await endpoint_row(runtime, endpoint_id)
            assert close_to(endpoint.failing_since, first.created_at, tolerance=1.0)
            assert endpoint.last_success_at is None

            await receiver.start()  # the same port again
            [request] = await receiver.wait_for(1, timeout=15)
            delivered = await delivery_in(runtime, endpoint_id, "succeeded")

        assert request.headers["webhook-id"] == event_id
        assert verify_standard(request, secret)["data"]["sequence"] == 0
        assert (delivered.attempt_count, delivered.last_status_code) == (2, 200)
        assert delivered.delivered_at is not None
        rows = await attempts(runtime, endpoint_id)
        assert [(a.attempt, a.success, a.status_code) for a in rows] == [
            (1, False, None),
            (2, True, 200),
        ]
        assert rows[1].created_at - rows[0].created_at >= FIRST_RETRY
        endpoint = await endpoint_row(runtime, endpoint_id)
        assert endpoint.failing_since is None
        assert endpoint.last_success_at is not None
        assert endpoint.enabled
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()
        await settle(runtime, endpoint_id)


async def test_a_500_is_retried_five_seconds_later(settings: Settings, runtime: Runtime) -> None:
    async with Receiver() as receiver:
        receiver.status = 500
        receiver.response_body = b"internal trouble"
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        try:
            async with dispatching(runtime, settings):
                [event_id] = await record_events(runtime, client_id)
                [first] = await attempts_made(runtime, endpoint_id, 1)
                [delivery] = await deliveries(runtime, endpoint_id)
                assert (first.success, first.status_code, first.error) == (False, 500, "HTTP 500")
                assert first.response_excerpt == "internal trouble"
                assert (delivery.state, delivery.last_status_code) == ("pending", 500)
                assert close_to(delivery.next_attempt_at, first.created_at + FIRST_RETRY)

                receiver.status = 200
                assert await make_due_now(runtime, endpoint_id) == 1  # rather than wait 5 s
                delivered = await delivery_in(runtime, endpoint_id, "succeeded")

            assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
            assert delivered.attempt_count == 2
            rows = await attempts(runtime, endpoint_id)
            assert [(a.attempt, a.status_code) for a in rows] == [(1, 500), (2, 200)]
        finally:
            await settle(runtime, endpoint_id)


async def test_with_max_attempts_1_a_failure_is_final(settings: Settings, runtime: Runtime) -> None:
    """The vendor's default: no retry at all."""
    async with Receiver() as receiver:
        receiver.status = 503
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url, max_attempts=1)
        try:
            async with dispatching(runtime, settings):
                await record_events(runtime, client_id)
                failed = await delivery_in(runtime, endpoint_id, "failed")
                assert await make_due_now(runtime, endpoint_id) == 0  # nothing left to retry
                await asyncio.sleep(0.3)  # several polls: nothing is sent again

            assert (failed.attempt_count, failed.last_status_code) == (1, 503)
            assert failed.locked_by is None
            assert len(receiver.received) == 1
            assert [(a.attempt, a.status_code) for a in await attempts(runtime, endpoint_id)] == [
                (1, 503)
            ]
            [delivery] = await deliveries(runtime, endpoint_id)
            assert delivery.state == "failed"
            endpoint = await endpoint_row(runtime, endpoint_id)
            assert endpoint.enabled  # one failure does not disable
            assert endpoint.failing_since is not None
        finally:
            await settle(runtime, endpoint_id)


# The schedule, without a database --------------------------------------------------------------

AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def outcome(
    run_attempts: int,
    *,
    max_attempts: int = 8,
    attempt_count: int | None = None,
    success: bool = False,
    status_code: int | None = 500,
    sent: bool = True,
) -> Outcome:
    target = Target(
        id="ep_test",
        url="http://127.0.0.1:9/hooks",
        enabled=sent,
        max_attempts=max_attempts,
        headers={},
        secrets=["whsec_test"],
        vendor_secret="whsec_test",
    )
    claimed = Claimed(
        delivery_id="dlv_test",
        event_id="evt_test",
        event_type="reward.issued",
        attempt_count=run_attempts if attempt_count is None else attempt_count,
        run_attempts=run_attempts,
        origin="schedule",
        body=b"{}",
        target=target,
    )
    return Outcome(claimed, AT, success=success, status_code=status_code, sent=sent)


SCHEDULE = [
    (1, timedelta(seconds=5)),
    (2, timedelta(minutes=5)),
    (3, timedelta(minutes=30)),
    (4, timedelta(hours=2)),
    (5, timedelta(hours=5)),
    (6, timedelta(hours=10)),
    (7, timedelta(hours=10)),
]


@pytest.mark.parametrize(("attempt", "delay"), SCHEDULE)
def test_a_failed_attempt_is_retried_on_the_schedule(attempt: int, delay: timedelta) -> None:
    assert next_state(outcome(attempt)) == ("pending", AT + delay)
    assert next_state(outcome(attempt, status_code=None)) == ("pending", AT + delay)  # no answer


def test_the_eighth_failure_is_final() -> None:
    assert next_state(outcome(8)) == ("failed", None)
    assert next_state(outcome(9)) == ("failed", None)  # a claim whose result was lost


@pytest.mark.parametrize("attempt", range(1, 9))
def test_a_success_ends_the_schedule(attempt: int) -> None:
    assert next_state(outcome(attempt, success=True, status_code=200)) == ("succeeded", None)


@pytest.mark.parametrize("max_attempts", range(1, 9))
def test_max_attempts_cuts_the_schedule_short(max_attempts: int) -> None:
    for attempt, delay in SCHEDULE[: max_attempts - 1]:
        assert next_state(outcome(attempt, max_attempts=max_attempts)) == ("pending", AT + delay)
    assert next_state(outcome(max_attempts, max_attempts=max_attempts)) == ("failed", None)


def test_the_schedule_counts_the_attempts_of_the_current_run() -> None:
    """A replay starts the schedule again: attempt 12 in all, the first of its run."""
    assert next_state(outcome(1, attempt_count=12)) == ("pending", AT + timedelta(seconds=5))


def test_410_and_a_disabled_endpoint_end_the_schedule_at_once() -> None:
    assert next_state(outcome(1, status_code=410)) == ("failed", None)
    assert next_state(outcome(1, status_code=None, sent=False)) == ("failed", None)


# Five days without a success ---------------------------------------------------------------------


async def test_an_endpoint_failing_for_five_days_is_disabled_by_its_next_failure(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:
        receiver.status = 500
        client_id = await make_client(runtime)
        old_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        recent_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        now = utcnow()
        since = {old_id: now - timedelta(days=6), recent_id: now - timedelta(days=4)}
        async with runtime.db.write_session() as session:
            for endpoint_id, failing_since in since.items():
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint_id)
                    .values(failing_since=failing_since)
                )
            await session.commit()
        try:
            async with dispatching(runtime, settings):
                [event_id] = await record_events(runtime, client_id)
                [old_attempt] = await attempts_made(runtime, old_id, 1)
                [recent_attempt] = await attempts_made(runtime, recent_id, 1)

            assert old_attempt.event_id == recent_attempt.event_id == event_id
            assert (old_attempt.status_code, recent_attempt.status_code) == (500, 500)
            old = await endpoint_row(runtime, old_id)
            assert not old.enabled
            assert old.disabled_reason == "no successful delivery for 5 days"
            assert close_to(old.failing_since, since[old_id])  # the streak's start is kept
            [entry] = [
                e
                for e in await audit_entries(runtime, old_id)
                if e.action == "webhook_endpoint.disabled"
            ]
            assert (entry.actor, entry.target_type) == ("system:webhooks", "webhook_endpoint")
            assert entry.changes == {"reason": "no successful delivery for 5 days"}

            recent = await endpoint_row(runtime, recent_id)
            assert recent.enabled and recent.disabled_reason is None
            assert close_to(recent.failing_since, since[recent_id])
            assert not [
                e
                for e in await audit_entries(runtime, recent_id)
                if e.action == "webhook_endpoint.disabled"
            ]
            # Not Gone: the delivery itself keeps its schedule (it fails unsent once due).
            [delivery] = await deliveries(runtime, old_id)
            assert delivery.state == "pending"
        finally:
            await settle(runtime, old_id)
            await settle(runtime, recent_id)
