"""Faults: receivers that are slow, redirect or are gone; workers killed mid-delivery; two
dispatchers on one database. No event is lost and none is delivered twice while leases hold."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.models import WebhookAttempt, WebhookDelivery
from bestow.webhooks import dispatcher
from bestow.webhooks.dispatcher import Claimed
from tests.fixtures.receiver import Received, Receiver
from tests.fixtures.workers import Spawn, WorkerProcess, worker_env, worker_processes
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
    redirecting,
    settle,
    verify_standard,
)

FIRST_RETRY_SECONDS = 5.0


async def attempts_made(runtime: Runtime, endpoint_id: str, count: int) -> list[WebhookAttempt]:
    async def check() -> list[WebhookAttempt] | None:
        rows = await attempts(runtime, endpoint_id)
        return rows if len(rows) >= count else None

    return await poll(check, f"{count} attempt(s) of {endpoint_id}")


async def all_in(
    runtime: Runtime, endpoint_id: str, state: str, count: int, *, timeout: float = 15.0
) -> list[WebhookDelivery]:
    """The endpoint's deliveries once there are ``count`` and all are in ``state``."""

    async def check() -> list[WebhookDelivery] | None:
        rows = await deliveries(runtime, endpoint_id)
        return rows if len(rows) == count and all(r.state == state for r in rows) else None

    return await poll(check, f"{count} {state} deliveries of {endpoint_id}", timeout=timeout)


def retry_delay(delivery: WebhookDelivery, attempt: WebhookAttempt) -> float:
    return (delivery.next_attempt_at - attempt.created_at).total_seconds()


# A slow receiver ---------------------------------------------------------------------------


def test_the_default_timeout_is_15_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BESTOW_WEBHOOK_TIMEOUT_SECONDS", "BESTOW_WEBHOOK_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().webhook_timeout_seconds == 15


async def test_an_answer_slower_than_the_timeout_is_a_failure_and_is_retried(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:

        def slow_first(request: Received) -> None:
            receiver.delay = 2.5 if len(receiver.received) == 1 else 0.0  # 1 s timeout below

        receiver.respond = slow_first
        client_id = await make_client(runtime)
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        try:
            async with dispatching(
                runtime, settings, webhook_timeout_seconds=1.0, webhook_lease_seconds=5.0
            ):
                [event_id] = await record_events(runtime, client_id)
                [first] = await attempts_made(runtime, endpoint_id, 1)
                [delivery] = await deliveries(runtime, endpoint_id)
                assert (first.success, first.status_code) == (False, None)
                assert first.error == "timed out after 1 s"
                assert first.latency_ms >= 900  # it waited for the answer, then gave up
                assert (delivery.state, delivery.last_error) == ("pending", first.error)
                assert retry_delay(delivery, first) == pytest.approx(FIRST_RETRY_SECONDS)

                assert await make_due_now(runtime, endpoint_id) == 1  # rather than wait 5 s
                [delivered] = await all_in(runtime, endpoint_id, "succeeded", 1)

            ids = [request.headers["webhook-id"] for request in receiver.received]
            assert ids == [event_id, event_id]
            assert verify_standard(receiver.received[1], secret)["data"]["sequence"] == 0
            assert (delivered.attempt_count, delivered.last_status_code) == (2, 200)
            rows = await attempts(runtime, endpoint_id)
            assert [(a.attempt, a.success, a.status_code) for a in rows] == [
                (1, False, None),
                (2, True, 200),
            ]
        finally:
            await settle(runtime, endpoint_id)


# Answers that are not 2xx ------------------------------------------------------------------


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as target, redirecting(f"{target.url}/moved") as redirector:
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, redirector.url)
        try:
            async with dispatching(runtime, settings):
                [event_id] = await record_events(runtime, client_id)
                [attempt] = await attempts_made(runtime, endpoint_id, 1)
                await asyncio.sleep(0.2)  # a followed redirect would have arrived by now

            assert redirector.hits == ["/hooks"]
            assert target.received == []
            assert (attempt.event_id, attempt.success) == (event_id, False)
            assert (attempt.status_code, attempt.error) == (302, "HTTP 302")
            [delivery] = await deliveries(runtime, endpoint_id)
            assert (delivery.state, delivery.last_status_code) == ("pending", 302)
            assert retry_delay(delivery, attempt) == pytest.approx(FIRST_RETRY_SECONDS)
            endpoint = await endpoint_row(runtime, endpoint_id)
            assert endpoint.enabled and endpoint.failing_since is not None
        finally:
            await settle(runtime, endpoint_id)


async def test_410_gone_disables_the_endpoint_at_once(settings: Settings, runtime: Runtime) -> None:
    async with Receiver() as receiver:
        receiver.status = 410
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        try:
            async with dispatching(runtime, settings):
                [first_event] = await record_events(runtime, client_id)
                [gone] = await all_in(runtime, endpoint_id, "failed", 1)
                endpoint = await endpoint_row(runtime, endpoint_id)
                assert not endpoint.enabled  # disabled with the attempt that got the 410

                [second_event] = await record_events(runtime, client_id)
                fanned = await all_in(runtime, endpoint_id, "failed", 2)
                await asyncio.sleep(0.3)  # several polls: nothing is sent to it

            assert (gone.event_id, gone.attempt_count, gone.last_status_code) == (
                first_event,
                1,
                410,
            )
            assert endpoint.disabled_reason is not None and "410" in endpoint.disabled_reason
            [late] = [d for d in fanned if d.event_id == second_event]
            assert (late.attempt_count, late.last_error) == (0, "endpoint disabled")
            assert len(receiver.received) == 1
            assert receiver.received[0].headers["webhook-id"] == first_event
            assert [(a.event_id, a.status_code) for a in await attempts(runtime, endpoint_id)] == [
                (first_event, 410)
            ]
            disabled = [
                e
                for e in await audit_entries(runtime, endpoint_id)
                if e.action == "webhook_endpoint.disabled"
            ]
            assert [e.changes["reason"] for e in disabled] == [endpoint.disabled_reason]
        finally:
            await settle(runtime, endpoint_id)


# A database that fails while an outcome is recorded -----------------------------------------


async def test_a_batch_that_cannot_be_recorded_leaves_no_trace_and_is_written_again(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt rows, the delivery and the endpoint are written in one transaction: when its
    last step fails, none of it stays (on PostgreSQL the attempts are COPYed, which must not
    commit on its own), and the recorder writes the batch again, once."""
    real = dispatcher._endpoint_health
    failures: list[int] = []

    async def failing_once(session: Any, outcomes: list[Any], now: Any) -> None:
        if not failures and any(o.claimed.target.id == endpoint_id for o in outcomes):
            failures.append(len(outcomes))
            raise ConnectionResetError("the database went away")
        await real(session, outcomes, now)

    monkeypatch.setattr(dispatcher, "_endpoint_health", failing_once)
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        try:
            async with dispatching(runtime, settings):
                [event_id] = await record_events(runtime, client_id)
                [delivered] = await all_in(runtime, endpoint_id, "succeeded", 1)

            assert failures == [1]
            assert [r.headers["webhook-id"] for r in receiver.received] == [event_id]
            assert (delivered.attempt_count, delivered.last_status_code) == (1, 200)
            rows = await attempts(runtime, endpoint_id)
            assert [(a.attempt, a.success, a.status_code) for a in rows] == [(1, True, 200)]
            assert (await endpoint_row(runtime, endpoint_id)).last_success_at is not None
        finally:
            await settle(runtime, endpoint_id)


# Two dispatchers on one database -----------------------------------------------------------

MANY = 500


async def test_two_dispatchers_deliver_each_event_exactly_once(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        started: list[list[str]] = [[], []]
        try:
            async with (
                dispatching(runtime, settings) as first,
                dispatching(runtime, settings) as second,
            ):
                assert first.worker_id != second.worker_id
                for each, seen in zip((first, second), started, strict=True):
                    watch_sends(each, endpoint_id, seen)
                event_ids = await record_events(runtime, client_id, MANY)
                rows = await all_in(runtime, endpoint_id, "succeeded", MANY, timeout=60)
            # Stopped: every request either dispatcher had in flight has arrived by now.

            received = Counter(request.headers["webhook-id"] for request in receiver.received)
            assert [event for event, n in received.items() if n > 1] == []
            assert set(received) == set(event_ids)
            assert len(receiver.received) == MANY
            verify_standard(receiver.received[0], secret)

            assert all(started), "both dispatchers should have claimed deliveries"
            assert not set(started[0]) & set(started[1])
            assert sorted(started[0] + started[1]) == sorted(r.id for r in rows)
            assert {r.attempt_count for r in rows} == {1}
            assert {r.event_id for r in rows} == set(event_ids)
            rows_of_attempts = await attempts(runtime, endpoint_id)
            assert len(rows_of_attempts) == MANY
            assert {(a.attempt, a.success, a.status_code) for a in rows_of_attempts} == {
                (1, True, 200)
            }
        finally:
            await settle(runtime, endpoint_id)


def watch_sends(sender: Any, endpoint_id: str, seen: list[str]) -> None:
    """Note the deliveries of the endpoint this dispatcher starts sending."""
    start = sender._start

    def noting(http: aiohttp.ClientSession, item: Claimed) -> None:
        if item.target.id == endpoint_id:
            seen.append(item.delivery_id)
        start(http, item)

    sender._start = noting


# A worker killed mid-delivery --------------------------------------------------------------

KILLED = 50


@pytest.fixture
def spawn(database_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """``bestow worker`` processes on the test database (on a job queue of their own, so that
    they only dispatch webhooks); each is killed at the end."""
    env = worker_env(
        database_url,
        tmp_path / "var",
        BESTOW_WORKER_QUEUES='["webhook-faults"]',
        BESTOW_WORKER_POLL_SECONDS="0.1",
        BESTOW_WEBHOOK_TIMEOUT_SECONDS="3",
        BESTOW_WEBHOOK_LEASE_SECONDS="4",
        BESTOW_WEBHOOK_POLL_SECONDS="0.1",
    )
    with worker_processes(env, tmp_path) as start:
        yield start


async def started(worker: WorkerProcess) -> bool:
    if worker.process.poll() is not None:
        raise AssertionError(f"worker {worker.name} exited\n{worker.output()}")
    return "worker.started" in worker.output()


@pytest.mark.slow
async def test_deliveries_of_a_killed_worker_are_sent_again_by_another(
    runtime: Runtime, spawn: Spawn
) -> None:
    async with Receiver() as receiver:
        receiver.delay = 60.0  # hold every request: the worker dies with all of them in flight
        client_id = await make_client(runtime)
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        workers: list[WorkerProcess] = []
        try:
            first = spawn("first")
            workers.append(first)
            await poll(lambda: started(first), "start of the first worker", timeout=60)
            event_ids = await record_events(runtime, client_id, KILLED)
            try:
                held = await receiver.wait_for(KILLED, timeout=20)
            except TimeoutError as exc:
                raise AssertionError(f"{exc}\n{first.output()}") from None
            first.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.process.wait, 10)

            # Killed before any answer or timeout: nothing was recorded, every delivery is
            # leased to the dead worker.
            assert await attempts(runtime, endpoint_id) == [], "the kill came too late"
            leased = await deliveries(runtime, endpoint_id)
            assert len(leased) == KILLED
            assert {(d.state, d.attempt_count) for d in leased} == {("pending", 1)}
            assert all(first.owns(d.locked_by) for d in leased)

            receiver.delay = 0.0
            second = spawn("second")
            workers.append(second)
            try:
                rows = await all_in(runtime, endpoint_id, "succeeded", KILLED, timeout=60)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{second.output()}") from None
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.kill()
                    await asyncio.to_thread(worker.process.wait, 10)
            await settle(runtime, endpoint_id)

    again = receiver.received[KILLED:]
    held_ids = [request.headers["webhook-id"] for request in held]
    again_ids = [request.headers["webhook-id"] for request in again]
    assert sorted(held_ids) == sorted(event_ids)
    assert sorted(again_ids) == sorted(event_ids)  # each sent again once, under the same id
    bodies = {request.headers["webhook-id"]: request.body for request in held}
    assert all(bodies[request.headers["webhook-id"]] == request.body for request in again)
    assert all(verify_standard(request, secret) for request in again)

    assert {(r.attempt_count, r.last_status_code) for r in rows} == {(2, 200)}
    recorded = await attempts(runtime, endpoint_id)
    assert sorted(a.event_id for a in recorded) == sorted(event_ids)
    assert {(a.attempt, a.success, a.status_code) for a in recorded} == {(2, True, 200)}
